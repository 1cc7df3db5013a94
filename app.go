// Command app synthesizes the platform of one environment: `cdk synth -c env=NAME`.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/stacks"
)

func main() {
	os.Exit(run())
}

func run() int {
	defer jsii.Close()
	// aws-cdk-lib's template validator (~3 s a synth) runs only with
	// CDK_VALIDATION=true: cfn-lint checks every template in the tests and
	// .ci/run runs the validator itself (README: Where templates are checked).
	app := awscdk.NewApp(&awscdk.AppProps{BuiltinCloudFormationValidation: jsii.Bool(os.Getenv("CDK_VALIDATION") == "true")})
	cfg, err := stacks.LoadConfig(app, ".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stacks.NewPlatform(app, cfg)
	app.Synth(nil)
	return 0
}
