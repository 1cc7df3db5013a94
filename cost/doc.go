// Package cost estimates the idle monthly cost of synthesized CloudFormation
// templates (the JSON files `cdk synth` writes to cdk.out) from a checked-in
// table of us-east-1 on-demand list prices (prices.json).
//
// "Idle" means what an environment costs with no traffic: hourly and
// per-month charges (NAT gateways, load balancers, Fargate tasks kept running,
// database instances and storage, public IPv4 addresses, interface endpoints,
// secrets, alarms, keys, Container Insights metrics...) and idle floors, what
// monitoring and idle traffic ingest with no users (flow-log records of health
// checks, Enhanced Monitoring and Container Insights logs, rotated keys), each
// stated with its assumption. Charges that accrue only with use (requests,
// data processed) are listed as usage-based; data stored by what is put there
// (objects, images) is listed apart. Resource types the estimator does not
// know are printed as "not priced", never hidden, so the total is a lower
// bound whenever that list is not empty.
//
// The package deliberately does not import aws-cdk-go: it reads plain JSON, so
// it compiles and tests in seconds.
package cost
