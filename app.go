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
	app := awscdk.NewApp(nil)
	cfg, err := stacks.LoadConfig(app, ".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stacks.NewPlatform(app, cfg)
	app.Synth(nil)
	return 0
}
