package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PEM fixtures for database.external.caCertificate: a CA, a server
// certificate it signed, and a private key (which must never be accepted).
var caPEMText, leafPEM, keyPEM = func() (string, string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now, NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "db.example.internal"}, DNSNames: []string{"db.example.internal"},
		NotBefore: now, NotAfter: now.Add(time.Hour), BasicConstraintsValid: true}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		panic(err)
	}
	enc := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	return enc("CERTIFICATE", caDER), enc("CERTIFICATE", leafDER), enc("EC PRIVATE KEY", keyDER)
}()

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// An external database verified against its own CA: the PEM is accepted as
// given, as are the two named choices.
func TestExternalCACertificateChoices(t *testing.T) {
	for _, ca := range []string{ExternalCASystem, ExternalCARDS, caPEMText, caPEMText + caPEMText} {
		ctx := withEnv(t, "dev", `{}`)
		ctx[KeyEnvironments].(map[string]any)["dev"].(map[string]any)["database"] = m("engine", "external", "external",
			m("secretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:tsa/db-AbCdEf", "cidr", "10.50.0.0/24", "host", "10.50.0.10", "caCertificate", ca))
		cfg, err := load(ctx)
		require.NoError(t, err)
		assert.Equal(t, ca, cfg.Database.External.CACertificate)
	}
	assert.Contains(t, checkCACertificate(caPEMText+"trailing garbage"), "neither system, rds nor PEM")
}
