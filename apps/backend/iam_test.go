package main

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5"
)

// The hook puts a fresh RDS IAM token into every new connection's password:
// a presigned rds-db "connect" request for the endpoint, region and user.
func TestIAMTokenIsThePassword(t *testing.T) {
	tokens := &iamTokens{
		endpoint: "db.abc.eu-west-1.rds.amazonaws.com:5432",
		region:   "eu-west-1",
		user:     "tsa_app",
		creds:    credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}
	var cc pgx.ConnConfig
	if err := tokens.beforeConnect(context.Background(), &cc); err != nil {
		t.Fatal(err)
	}
	host, query, ok := strings.Cut(cc.Password, "?")
	if !ok || host != tokens.endpoint {
		t.Fatalf("token %q does not start with the endpoint", cc.Password)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("Action") != "connect" || q.Get("DBUser") != "tsa_app" || q.Get("X-Amz-Signature") == "" {
		t.Errorf("token query %v", q)
	}
	if cred := q.Get("X-Amz-Credential"); !strings.HasPrefix(cred, "AKIDEXAMPLE/") || !strings.HasSuffix(cred, "/eu-west-1/rds-db/aws4_request") {
		t.Errorf("credential scope %q", cred)
	}
	if q.Get("X-Amz-Expires") != "900" {
		t.Errorf("token lifetime %q, want 900 s", q.Get("X-Amz-Expires"))
	}
}

// The server's pools call the hook (newPool wires cfg.beforeConnect).
func TestPoolUsesBeforeConnect(t *testing.T) {
	cfg, err := LoadConfig(envFrom(validEnv(t)), ModeServe)
	if err != nil {
		t.Fatal(err)
	}
	called := false
	cfg.beforeConnect = func(context.Context, *pgx.ConnConfig) error { called = true; return nil }
	pool, err := newPool(context.Background(), cfg, 1, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if pool.Config().BeforeConnect == nil {
		t.Fatal("the pool has no BeforeConnect hook")
	}
	_ = pool.Config().BeforeConnect(context.Background(), pool.Config().ConnConfig)
	if !called {
		t.Error("the pool's hook is not cfg.beforeConnect")
	}
}
