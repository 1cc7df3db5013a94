package config

import "slices"

// gravitonTypes are the AWS Graviton (arm64) EC2 instance types the
// TimescaleDB host may use, from the Amazon EC2 Instance Types guide
// (https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html, mo.html,
// co.html; read 2026-12-01): general purpose, memory and compute optimized
// families with their virtualized sizes.
var gravitonTypes = func() []string {
	families := map[string][]string{
		"t4g": {"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"},
		"m6g": graviton2Sizes, "m6gd": graviton2Sizes, "r6g": graviton2Sizes, "r6gd": graviton2Sizes,
		"c6g": graviton2Sizes, "c6gd": graviton2Sizes, "x2gd": graviton2Sizes,
		"m7g": graviton2Sizes, "m7gd": graviton2Sizes, "r7g": graviton2Sizes, "r7gd": graviton2Sizes,
		"c7g": graviton2Sizes, "c7gd": graviton2Sizes,
		"m8g": graviton4Sizes, "r8g": graviton4Sizes, "c8g": graviton4Sizes,
	}
	var out []string
	for fam, sizes := range families {
		for _, s := range sizes {
			out = append(out, fam+"."+s)
		}
	}
	slices.Sort(out)
	return out
}()

var (
	graviton2Sizes = []string{"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"}
	graviton4Sizes = []string{"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "48xlarge"}
)
