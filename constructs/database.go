// Package constructs holds the project's reusable L3 constructs.
package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
)

// Database is what a consumer (the compute stack) needs from any data tier,
// whichever engine provides it. The secret holds the JSON keys host, port,
// dbname, username and password, as RDS-generated secrets do.
type Database struct {
	// Engine is the configured engine name, for outputs and the app's schema mode.
	Engine string
	// Endpoint is the host name or address clients connect to; nil when only
	// the secret knows it (an external database).
	Endpoint *string
	// Port is the TCP port clients connect to.
	Port float64
	// Name is the database to connect to.
	Name string
	// Secret holds the connection credentials.
	Secret awssecretsmanager.ISecret
	// Connections is the database side of the network path; consumers open it
	// from their own side (AllowToDefaultPort) so no stack depends on a later one.
	Connections awsec2.Connections
}
