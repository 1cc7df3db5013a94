// Command cost prints the idle monthly cost estimate of one environment's
// synthesized CloudFormation templates. See cost/README.md.
//
//	npx cdk synth -c env=dev
//	go run ./cmd/cost -env dev [-dir cdk.out] [-json] [-max 150]
package main

import (
	"os"

	"github.com/tsa-platform/infra/cost"
)

func main() {
	os.Exit(cost.Main(os.Args[1:], os.Stdout, os.Stderr))
}
