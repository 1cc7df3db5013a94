package config

import (
	"encoding/json"
	"reflect"
	"strings"
)

// SchemaFile is the JSON Schema of cdk.json that editors check it against:
// the environments block strictly, the rest of the file loosely. It is
// generated from Config and the value sets validation uses (Schema); a test
// keeps the checked-in file current.
const SchemaFile = "config/cdk.schema.json"

// schemaHints add to a setting's JSON type what validation knows for sure.
// Rules between settings (a zone of the region, memory for the CPU, ...)
// stay with Validate.
var schemaHints = map[string]map[string]any{
	"profile":                                {"enum": []string{ProfileDev, ProfileProd}},
	"account":                                {"pattern": accountPattern.String()},
	"region":                                 {"enum": awsRegions},
	"availabilityZones":                      {"minItems": 2, "maxItems": 3, "uniqueItems": true, "items": map[string]any{"type": "string", "enum": allZones()}},
	"tags":                                   {"maxProperties": maxUserTags, "propertyNames": map[string]any{"minLength": 1, "maxLength": 128}, "additionalProperties": map[string]any{"type": "string", "maxLength": 256}},
	"network.maxAzs":                         {"enum": []int{2}},
	"network.natGateways":                    {"minimum": 0, "maximum": 3},
	"network.subnetCidrMask":                 {"minimum": 16, "maximum": 27},
	"network.flowLogRetentionDays":           {"enum": logRetentionDays},
	"database.engine":                        {"enum": engines},
	"database.instanceClass":                 {"enum": RDSInstanceClasses()},
	"database.engineVersion":                 {"enum": postgresVersions},
	"database.databaseName":                  {"pattern": identPattern.String()},
	"database.allocatedStorageGiB":           {"minimum": 20, "maximum": 65536},
	"database.backupRetentionDays":           {"minimum": 1, "maximum": 35},
	"database.monitoringIntervalSeconds":     {"enum": monitoringIntervals},
	"database.logRetentionDays":              {"enum": logRetentionDays},
	"database.timescale.instanceType":        {"enum": gravitonTypes},
	"database.timescale.postgresMajor":       {"minimum": 15, "maximum": 17},
	"database.timescale.backupRetentionDays": {"minimum": 1, "maximum": 35},
	"database.external.port":                 {"minimum": 1, "maximum": 65535},
	"database.external.host":                 {"minLength": 1, "maxLength": 253},
	"database.external.caCertificate":        {"minLength": 1, "maxLength": maxCAPEM},
	"backend.cpu":                            {"enum": fargateCPUs},
	"backend.port":                           {"minimum": 1024, "maximum": 65535},
	"backend.cpuArchitecture":                {"enum": cpuArchitectures},
	"backend.minCount":                       {"minimum": 1},
	"backend.maxCount":                       {"maximum": 100},
	"backend.targetCpuPercent":               {"minimum": 10, "maximum": 90},
	"backend.logRetentionDays":               {"enum": logRetentionDays},
	"frontend.priceClass":                    {"enum": priceClasses},
	"frontend.domainName":                    {"maxLength": 253},
	"frontend.allowDefaultCertificate":       {"minLength": minDefaultCertificateReason, "maxLength": 500},
	"frontend.waf.apiRateLimit":              {"minimum": minRateLimit, "maximum": maxRateLimit},
	"frontend.waf.rateWindowSeconds":         {"enum": rateWindows},
	"monitoring.evaluationPeriods":           {"minimum": 1, "maximum": 10},
	"monitoring.execSessionLogDays":          {"enum": logRetentionDays},
	"github.repository":                      {"pattern": `^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`},
	"github.ownerId":                         {"pattern": ghIDPattern.String()},
	"github.repositoryId":                    {"pattern": ghIDPattern.String()},
	"github.accounts.environments":           {"minItems": 1, "uniqueItems": true, "items": map[string]any{"type": "string", "pattern": envNamePattern.String()}},
}

func allZones() []string {
	var out []string
	for _, r := range awsRegions {
		out = append(out, zonesOf(r)...)
	}
	return out
}

// Schema returns the JSON Schema of cdk.json (draft 2020-12).
func Schema() ([]byte, error) {
	defs := map[string]any{}
	env := schemaOf(reflect.TypeOf(Config{}), "", defs)
	defs["environment"] = env
	github := schemaOf(reflect.TypeOf(GitHub{}), KeyGitHub, defs)
	github["description"] = appKeys[KeyGitHub]
	appKey := func(key string) map[string]any {
		return map[string]any{"type": "string", "description": appKeys[key]}
	}
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "cdk.json of the " + Project + " platform",
		"description": "Generated from config.Config by `go test ./config -run TestSchema -update`; do not edit. The environments block is checked strictly; cross-setting rules are checked at synth.",
		"type":        "object",
		"properties": map[string]any{
			"context": map[string]any{
				"type": "object",
				"properties": map[string]any{
					KeyEnvironments: map[string]any{
						"type":                 "object",
						"minProperties":        1,
						"propertyNames":        map[string]any{"pattern": envNamePattern.String()},
						"additionalProperties": map[string]any{"$ref": "#/$defs/environment"},
						"description":          appKeys[KeyEnvironments],
					},
					KeyEnv:         appKey(KeyEnv),
					KeyImageTag:    appKey(KeyImageTag),
					KeyFrontendDir: appKey(KeyFrontendDir),
					KeyStage:       appKey(KeyStage),
					KeyCI:          appKey(KeyCI),
					KeyGitHub:      github,
				},
			},
		},
		"$defs": defs,
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// schemaOf is the schema of a settings type; structs below the top go to
// defs under their type's name.
func schemaOf(t reflect.Type, path string, defs map[string]any) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		key := strings.TrimPrefix(path+"."+name, ".")
		var s map[string]any
		switch {
		case f.Type.Kind() == reflect.Struct:
			def := strings.ToLower(f.Type.Name())
			defs[def] = schemaOf(f.Type, key, defs)
			s = map[string]any{"$ref": "#/$defs/" + def}
		case f.Type.Kind() == reflect.Map && f.Type.Elem().Kind() == reflect.Struct:
			// An object of named entries (github.accounts).
			def := strings.ToLower(f.Type.Elem().Name())
			defs[def] = schemaOf(f.Type.Elem(), key, defs)
			s = map[string]any{"type": "object", "minProperties": 1, "additionalProperties": map[string]any{"$ref": "#/$defs/" + def}}
		default:
			s = map[string]any{"type": jsonType(f.Type)}
			for k, v := range schemaHints[key] {
				s[k] = v
			}
		}
		if tag := f.Tag.Get("engine"); tag != "" {
			s["description"] = "read only by database.engine " + strings.ReplaceAll(tag, ",", " or ")
		}
		props[name] = s
	}
	return map[string]any{"type": "object", "additionalProperties": false, "properties": props}
}

func jsonType(t reflect.Type) any {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "string"
}
