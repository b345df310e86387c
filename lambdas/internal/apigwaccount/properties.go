package apigwaccount

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// Resource property names, as the stack sets them on the custom resource.
// CloudFormation passes every value as a string.
const (
	PropRoleName  = "RoleName"
	PropRolePath  = "RolePath"
	PropPolicyARN = "PolicyARN"
)

// DefaultRolePath is the role's path when RolePath is absent or empty.
const DefaultRolePath = "/"

// CloudFormation adds these to every custom resource's properties; they are
// not ours to check.
var cfnProperties = []string{"ServiceToken", "ServiceTimeout"}

// The patterns and lengths are IAM's own for CreateRole's RoleName and Path
// and AttachRolePolicy's PolicyArn, so a bad value fails here, with all the
// others, instead of at the first IAM call.
var (
	roleNamePattern  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	rolePathPattern  = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	policyARNPattern = regexp.MustCompile(`^arn:[a-z0-9-]+:iam::(aws|[0-9]{12}):policy/[\x21-\x7E]+$`)
)

// Properties are the custom resource's checked properties.
type Properties struct {
	// RoleName is the account-wide, well-known name of the shared role.
	RoleName string
	// RolePath is the shared role's IAM path, "/" by default.
	RolePath string
	// PolicyARN is the managed policy attached to the role, normally
	// arn:<partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs.
	PolicyARN string
}

// ParseProperties checks the ResourceProperties of a Create or Update and
// reports every problem at once, so one failed deploy shows all the fixes.
func ParseProperties(raw map[string]any) (Properties, error) {
	var errs []error
	get := func(name string, required bool) string {
		v, present := raw[name]
		if !present || v == nil {
			if required {
				errs = append(errs, fmt.Errorf("%s is missing", name))
			}
			return ""
		}
		s, ok := v.(string)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: want a string, got %T", name, v))
		case s == "" && required:
			errs = append(errs, fmt.Errorf("%s is empty", name))
		}
		return s
	}
	p := Properties{RoleName: get(PropRoleName, true), RolePath: get(PropRolePath, false), PolicyARN: get(PropPolicyARN, true)}

	if p.RoleName != "" && !roleNamePattern.MatchString(p.RoleName) {
		errs = append(errs, fmt.Errorf("%s=%q: want 1 to 64 letters, digits or _+=,.@-", PropRoleName, p.RoleName))
	}
	if p.RolePath == "" {
		p.RolePath = DefaultRolePath
	} else if len(p.RolePath) > 512 || !rolePathPattern.MatchString(p.RolePath) {
		errs = append(errs, fmt.Errorf("%s=%q: want \"/\" or a path that starts and ends with \"/\" (printable ASCII, at most 512 characters)", PropRolePath, p.RolePath))
	}
	if p.PolicyARN != "" && (len(p.PolicyARN) > 2048 || !policyARNPattern.MatchString(p.PolicyARN)) {
		errs = append(errs, fmt.Errorf("%s=%q: want an IAM managed policy ARN (arn:<partition>:iam::aws:policy/<name>)", PropPolicyARN, p.PolicyARN))
	}

	// An unknown name is most likely a misspelt one (PolicyArn for
	// PolicyARN), which would otherwise read as "missing" with no hint why.
	var unknown []string
	for name := range raw {
		if name != PropRoleName && name != PropRolePath && name != PropPolicyARN && !slices.Contains(cfnProperties, name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		errs = append(errs, fmt.Errorf("unknown property %q (known: %s, %s, %s)", name, PropRoleName, PropRolePath, PropPolicyARN))
	}

	if err := errors.Join(errs...); err != nil {
		return Properties{}, err
	}
	return p, nil
}
