// Package rampolicies holds the RAM policies the secrets engine's own
// identity needs, one JSON document per feature (README "RAM permissions"),
// so that tests attach exactly what the README tells operators to attach.
package rampolicies

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed *.json
var files embed.FS

// The features, each named like its document (<feature>.json).
const (
	// STSAssumeRole is what assumed_role roles need.
	STSAssumeRole = "sts-assume-role"
	// RAMUsers is what ram_user roles need: role writes (custom policies,
	// checks of remote policies and groups), issue, revocation and rollback.
	RAMUsers = "ram-users"
	// StaticRoles is what static roles need.
	StaticRoles = "static-roles"
	// RotateRoot is what config/rotate-root and scheduled root rotation need.
	RotateRoot = "rotate-root"
	// All is the union of the four.
	All = "all"
)

// Features lists the per-feature documents, without All.
var Features = []string{STSAssumeRole, RAMUsers, StaticRoles, RotateRoot}

// EngineUserPlaceholder stands, in the rotate-root document, for the name
// of the RAM user whose AccessKey the engine is configured with.
const EngineUserPlaceholder = "<engine-user>"

// Document returns the JSON document of a feature as shipped.
func Document(feature string) (string, error) {
	b, err := files.ReadFile(feature + ".json")
	if err != nil {
		return "", fmt.Errorf("rampolicies: no document for feature %q", feature)
	}
	return string(b), nil
}

// Render returns the document of a feature with the engine's RAM user
// name in place of EngineUserPlaceholder.
func Render(feature, engineUser string) (string, error) {
	doc, err := Document(feature)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(doc, EngineUserPlaceholder, engineUser), nil
}
