// Package constructs holds the project's reusable L3 constructs.
package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
)

// Role names of the application's database roles (apps/README.md, "Roles
// and schema"): the migrator owns the schema, the application role reads and
// writes measurements and nothing else. The deploy-time migration task
// (/app -migrate, connected as the administrator) creates both.
const (
	MigratorUsername = "tsa_migrator"
	AppUsername      = "tsa_app"
)

// Database is what a consumer (the compute stack) needs from any data tier,
// whichever engine provides it.
type Database struct {
	// Engine is the configured engine name, for outputs and the app's schema mode.
	Engine string
	// Endpoint is the host name clients connect to: the name the server's
	// certificate carries, which verify-full checks.
	Endpoint *string
	// Port is the TCP port clients connect to.
	Port float64
	// Name is the database to connect to.
	Name string
	// Secret holds the administrator's credentials (JSON keys host, port,
	// dbname, username, password, as RDS-generated secrets do). Only the
	// deploy-time migration task reads it; nothing that runs all the time.
	Secret awssecretsmanager.ISecret
	// AppUser is the application role the API logs in as.
	AppUser string
	// AppSecret holds the application role's username and password; nil
	// when the role logs in with IAM database authentication (IAMResourceID).
	AppSecret awssecretsmanager.ISecret
	// IAMResourceID is the RDS instance's resource ID (DbiResourceId), the
	// resource of rds-db:connect; nil without IAM database authentication.
	IAMResourceID *string
	// TLS says how clients verify the server.
	TLS DatabaseTLS
	// Key is the data tier's customer-managed KMS key (storage, secrets);
	// nil where AWS-managed keys are used (encryption.customerManagedKeys off).
	Key awskms.IKey
	// Connections is the database side of the network path; consumers open it
	// from their own side (AllowToDefaultPort) so no stack depends on a later one.
	Connections awsec2.Connections
}

// DatabaseTLS names the CA that signed the server's certificate. All empty:
// the Amazon RDS bundle the API image ships (its DB_SSLROOTCERT default).
type DatabaseTLS struct {
	// RootCertFile is a CA bundle inside the image (DB_SSLROOTCERT).
	RootCertFile string
	// RootCertPEM is the CA certificate itself, public (DB_SSLROOTCERT_PEM).
	RootCertPEM string
	// RootCertParameter is an SSM String parameter holding the CA
	// certificate, read by ECS when a task starts (DB_SSLROOTCERT_PEM).
	RootCertParameter awsssm.IStringParameter
}
