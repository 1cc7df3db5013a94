package cost

import (
	"flag"
	"fmt"
	"io"
)

// Exit codes of Main.
const (
	ExitOK         = 0
	ExitError      = 1 // templates or price table could not be read
	ExitUsage      = 2 // bad flags
	ExitOverBudget = 3 // -max exceeded
)

// Main is the cost command: go run ./cmd/cost -env dev [-dir cdk.out] [-json] [-max N].
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := fs.String("env", "", "environment to estimate: reads <dir>/tsa-<env>-*.template.json (required)")
	dir := fs.String("dir", "cdk.out", "directory holding the synthesized templates")
	asJSON := fs.Bool("json", false, "print the estimate as JSON")
	max := fs.Float64("max", 0, "fail (exit 3) when the idle monthly total exceeds this many USD")
	pricesPath := fs.String("prices", "", "price table to use instead of the built-in cost/prices.json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./cmd/cost -env <env> [-dir cdk.out] [-json] [-max USD] [-prices file]\n\n"+
			"Prints the idle monthly cost of the synthesized stacks of one environment\n"+
			"(run `npx cdk synth -c env=<env>` first).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cost: unexpected arguments %v\n", fs.Args())
		fs.Usage()
		return ExitUsage
	}
	if *env == "" {
		fmt.Fprintln(stderr, "cost: -env is required (e.g. -env dev)")
		fs.Usage()
		return ExitUsage
	}
	maxSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "max" {
			maxSet = true
		}
	})

	var prices *PriceTable
	var err error
	if *pricesPath != "" {
		prices, err = LoadPrices(*pricesPath)
	} else {
		prices, err = DefaultPrices()
	}
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return ExitError
	}
	stacks, err := LoadEnv(*dir, *env)
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return ExitError
	}
	rep := Estimate(*env, stacks, prices)
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return ExitError
	}
	if maxSet {
		if err := rep.CheckBudget(*max); err != nil {
			fmt.Fprintf(stderr, "cost: %v\n", err)
			return ExitOverBudget
		}
	}
	return ExitOK
}
