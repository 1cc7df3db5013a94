// Package cost estimates the idle monthly cost of synthesized CloudFormation
// templates (the JSON files `cdk synth` writes to cdk.out) from a checked-in
// table of us-east-1 on-demand list prices (prices.json).
//
// "Idle" means what an environment costs with no traffic: hourly and
// per-month charges (NAT gateways, load balancers, Fargate tasks kept running,
// database instances and storage, public IPv4 addresses, interface endpoints,
// secrets, alarms, keys...). Charges that only accrue with use (data
// processed, requests, log ingestion, S3 storage...) are listed as
// usage-based and left out of the total. Resource types the estimator does not
// know are printed as "not priced", never hidden, so the total is a lower
// bound whenever that list is not empty.
//
// The package deliberately does not import aws-cdk-go: it reads plain JSON, so
// it compiles and tests in seconds.
package cost
