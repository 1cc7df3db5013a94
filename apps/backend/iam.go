package main

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"
)

// iamTokens signs an IAM database authentication token for every new
// connection of the application role (DB_IAM_AUTH=true, Amazon RDS). A token
// is a SigV4-presigned "connect" request for endpoint and user, built locally
// from the task role's credentials (no API call per connection) and valid for
// 15 minutes; it is only checked when a connection opens, so pooled
// connections outlive it ("IAM database authentication for MariaDB, MySQL,
// and PostgreSQL", Amazon RDS User Guide).
type iamTokens struct {
	endpoint, region, user string
	creds                  aws.CredentialsProvider
}

// newIAMTokens takes credentials from the SDK's default chain: in an ECS task,
// the task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), cached and refreshed
// by the SDK.
func newIAMTokens(ctx context.Context, cfg Config) (*iamTokens, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.AWSRegion))
	if err != nil {
		return nil, fmt.Errorf("AWS credentials for IAM database authentication: %w", err)
	}
	return &iamTokens{
		endpoint: net.JoinHostPort(cfg.DBHost, strconv.Itoa(cfg.DBPort)),
		region:   cfg.AWSRegion,
		user:     cfg.DBUser,
		creds:    awsCfg.Credentials,
	}, nil
}

// beforeConnect is a pgx BeforeConnect hook: the token is the password.
func (t *iamTokens) beforeConnect(ctx context.Context, cc *pgx.ConnConfig) error {
	token, err := auth.BuildAuthToken(ctx, t.endpoint, t.region, t.user, t.creds)
	if err != nil {
		return fmt.Errorf("build an IAM authentication token for %s: %w", t.user, err)
	}
	cc.Password = token
	return nil
}
