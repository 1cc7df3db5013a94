package config

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// RDS for PostgreSQL value sets, checked in and dated (2026-12-01).

// cdkPostgresVersions are the minor versions aws-cdk-lib 2.276.0 names for
// PostgreSQL 16 to 18 (awsrds.PostgresEngineVersion_VER_<MAJOR>_<MINOR>).
// test/sources_test.go fails when the pinned aws-cdk-go lists others.
var cdkPostgresVersions = []string{
	"16.1", "16.2", "16.3", "16.4", "16.5", "16.6", "16.7", "16.8", "16.9", "16.10", "16.11", "16.12", "16.13",
	"17.1", "17.2", "17.3", "17.4", "17.5", "17.6", "17.7", "17.8", "17.9",
	"18.1", "18.2", "18.3",
}

// rdsDeprecatedPostgres are versions of cdkPostgresVersions that RDS no
// longer creates instances with (cfn-lint 1.51.0's
// aws_rds_dbinstance/engine_version_deprecated.json, generated from the RDS
// API; it is what cfn-lint's W3691 reports).
var rdsDeprecatedPostgres = []string{"16.1", "16.2", "16.3", "16.4", "16.5", "16.7", "17.1", "17.3"}

// postgresVersions are the engine versions configuration accepts.
var postgresVersions = func() []string {
	var out []string
	for _, v := range cdkPostgresVersions {
		if !slices.Contains(rdsDeprecatedPostgres, v) {
			out = append(out, v)
		}
	}
	return out
}()

// CDKPostgresVersions returns the checked-in versions aws-cdk-lib names.
func CDKPostgresVersions() []string { return slices.Clone(cdkPostgresVersions) }

// rdsClassFamily is one RDS instance class type for PostgreSQL 16-18 and the
// memory of its sizes.
type rdsClassFamily struct {
	gibPerVCPU float64
	sizes      []string
}

// rdsFamilies: which classes RDS offers for PostgreSQL 16-18 comes from the
// RDS API's orderable options as cfn-lint 1.51.0 ships them
// (aws_rds_dbinstance/db_instance_class.json, engine postgres, 18.3); the
// memory from "Hardware specifications for DB instance classes" in the RDS
// User Guide
// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html):
// every size of a family has the same memory per vCPU.
var rdsFamilies = map[string]rdsClassFamily{
	"db.c6gd":   {2, sizesTo("16xlarge", "medium")},
	"db.m5":     {4, sizesTo("24xlarge")},
	"db.m5d":    {4, sizesTo("24xlarge")},
	"db.m6g":    {4, sizesTo("16xlarge")},
	"db.m6gd":   {4, sizesTo("16xlarge")},
	"db.m6i":    {4, sizesTo("32xlarge")},
	"db.m6id":   {4, sizesTo("32xlarge")},
	"db.m6idn":  {4, sizesTo("32xlarge")},
	"db.m6in":   {4, sizesTo("32xlarge")},
	"db.m7g":    {4, sizesTo("16xlarge")},
	"db.m7i":    {4, sizesTo("48xlarge")},
	"db.m8g":    {4, sizesTo("48xlarge")},
	"db.m8gd":   {4, sizesTo("48xlarge")},
	"db.r5":     {8, sizesTo("24xlarge")},
	"db.r5b":    {8, sizesTo("24xlarge")},
	"db.r5d":    {8, sizesTo("24xlarge")},
	"db.r6g":    {8, sizesTo("16xlarge")},
	"db.r6gd":   {8, sizesTo("16xlarge")},
	"db.r6i":    {8, sizesTo("32xlarge")},
	"db.r6id":   {8, sizesTo("32xlarge")},
	"db.r6idn":  {8, sizesTo("32xlarge")},
	"db.r6in":   {8, sizesTo("32xlarge")},
	"db.r7g":    {8, sizesTo("16xlarge")},
	"db.r7i":    {8, sizesTo("48xlarge")},
	"db.r8g":    {8, sizesTo("48xlarge")},
	"db.r8gd":   {8, sizesTo("48xlarge")},
	"db.x2g":    {16, sizesTo("16xlarge")},
	"db.x2iedn": {32, []string{"xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge", "24xlarge", "32xlarge"}},
}

// vCPUs per size (EC2's naming: large is 2 vCPUs, each step doubles).
var sizeVCPUs = map[string]int{
	"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
	"12xlarge": 48, "16xlarge": 64, "24xlarge": 96, "32xlarge": 128, "48xlarge": 192,
}

// sizesTo lists the sizes from large (or the given first size) up to last,
// skipping the ones EC2 families end on instead (a family that ends at
// 16xlarge has no 24xlarge; one that ends at 48xlarge has no 32xlarge).
func sizesTo(last string, first ...string) []string {
	all := []string{"medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "48xlarge"}
	start := 1
	if len(first) > 0 {
		start = slices.Index(all, first[0])
	}
	var out []string
	for _, s := range all[start : slices.Index(all, last)+1] {
		if (last == "48xlarge" && s == "32xlarge") || (last == "32xlarge" && s == "48xlarge") {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Burstable classes do not follow a per-vCPU ratio.
var burstableMemoryGiB = map[string]float64{
	"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32,
}

// rdsClassMemoryGiB holds every accepted RDS class with its memory.
var rdsClassMemoryGiB = func() map[string]float64 {
	m := map[string]float64{}
	for fam, f := range rdsFamilies {
		for _, s := range f.sizes {
			m[fam+"."+s] = f.gibPerVCPU * float64(sizeVCPUs[s])
		}
	}
	for _, fam := range []string{"db.t3", "db.t4g"} {
		for s, gib := range burstableMemoryGiB {
			m[fam+"."+s] = gib
		}
	}
	return m
}()

func rdsClassFamilies() []string {
	return append([]string{"db.t3", "db.t4g"}, sortedKeys(rdsFamilies)...)
}

// RDSInstanceClasses returns the accepted classes, sorted.
func RDSInstanceClasses() []string { return sortedKeys(rdsClassMemoryGiB) }

func burstableClass(class string) bool { return strings.HasPrefix(class, "db.t") }

// rdsMaxConnections is the highest max_connections RDS for PostgreSQL can
// give the class: its default is LEAST({DBInstanceClassMemory/9531392}, 5000)
// ("Maximum number of database connections", RDS User Guide,
// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections);
// DBInstanceClassMemory is below the class's memory, so this bounds it.
func rdsMaxConnections(class string) int {
	gib := rdsClassMemoryGiB[class]
	return int(math.Min(math.Floor(gib*(1<<30)/9531392), 5000))
}

func majorOf(version string) int {
	n, _ := strconv.Atoi(strings.SplitN(version, ".", 2)[0])
	return n
}

// PostgresVersions returns the engine versions configuration accepts.
func PostgresVersions() []string { return slices.Clone(postgresVersions) }
