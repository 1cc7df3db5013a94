package config

import (
	"fmt"
	"slices"
	"strings"
)

// Regions and zones, checked in and dated (2026-12-01).

// awsRegions is aws-cdk-lib 2.276.0's region list (regioninfo
// RegionInfo.regions). test/sources_test.go fails when the pinned
// aws-cdk-lib lists other regions.
var awsRegions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1",
	"cn-northwest-1", "eu-central-1", "eu-central-2", "eu-isoe-west-1", "eu-north-1", "eu-south-1",
	"eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "eusc-de-east-1", "il-central-1",
	"me-central-1", "me-south-1", "me-west-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
	"us-gov-east-1", "us-gov-west-1", "us-iso-east-1", "us-iso-west-1", "us-isob-east-1",
	"us-isob-west-1", "us-isof-east-1", "us-isof-south-1", "us-west-1", "us-west-2",
}

// Zone names. AWS Regions and Availability Zones, "AWS Availability Zones"
// (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html,
// read 2026-12-01): every Region has at least three Availability Zones, and a
// zone's code is the Region code followed by a letter. Most Regions have
// exactly a, b and c; zoneLetters lists the ones that have others (the oldest
// Regions map zones to letters per account, so an account may see only some
// of them: check with `aws ec2 describe-availability-zones --region R`).
const defaultZoneLetters = "abc"

var zoneLetters = map[string]string{
	"us-east-1":      "abcdef", // use1-az1..az6
	"us-west-2":      "abcd",   // usw2-az1..az4
	"ap-northeast-1": "abcd",   // apne1-az1..az4; new accounts get a, c, d
	"ap-northeast-2": "abcd",   // apne2-az1..az4
	"ca-central-1":   "abd",    // cac1-az1, az2, az4: the third zone is ca-central-1d
	"cn-north-1":     "abd",    // cnn1-az1, az2, az4
}

// Regions returns the region names configuration accepts.
func Regions() []string { return slices.Clone(awsRegions) }

func knownRegion(r string) bool { return slices.Contains(awsRegions, r) }

// zonesOf lists the zone names of a known region.
func zonesOf(region string) []string {
	letters, ok := zoneLetters[region]
	if !ok {
		letters = defaultZoneLetters
	}
	out := make([]string, 0, len(letters))
	for _, l := range letters {
		out = append(out, region+string(l))
	}
	return out
}

// checkZone explains why az is not a zone of region, or returns "".
func checkZone(az, region string) string {
	zones := zonesOf(region)
	if slices.Contains(zones, az) {
		return ""
	}
	lower := strings.ToLower(az)
	switch {
	case slices.Contains(zones, lower):
		return fmt.Sprintf("zone %q is written in upper case; did you mean %s?", az, lower)
	case strings.HasPrefix(lower, region+"-"):
		return fmt.Sprintf("zone %q is a Local or Wavelength Zone; the load balancer and the database need Availability Zones of %s: %s", az, region, strings.Join(zones, ", "))
	case strings.HasPrefix(lower, region) && len(lower) == len(region)+1:
		return fmt.Sprintf("%s has no zone %q; accepted: %s", region, az, strings.Join(zones, ", "))
	default:
		return fmt.Sprintf("zone %q is not in region %s; accepted: %s", az, region, strings.Join(zones, ", "))
	}
}

// Partition is the ARN partition of a known region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "us-isof-"):
		return "aws-iso-f"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}
