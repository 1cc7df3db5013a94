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

// run builds and synthesizes the app. Any error, a configuration error or
// one CDK raises while building or synthesizing, ends as one message on
// stderr and exit status 1.
func run() int {
	defer jsii.Close()
	err := stacks.Guard(func() error {
		app := awscdk.NewApp(nil)
		cfg, err := stacks.LoadConfig(app, ".")
		if err != nil {
			return err
		}
		stacks.NewPlatform(app, cfg)
		app.Synth(nil)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
