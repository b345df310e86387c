package apigwaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// PhysicalResourceID is the same for every instance and every request: a
// changed id would make CloudFormation delete the "old" resource after an
// update, and the id names the one account setting, not anything a stack
// owns.
const PhysicalResourceID = "apigateway-account-cloudwatch-role"

// Keys of the Data returned to CloudFormation (Fn::GetAtt on the resource).
const (
	DataRoleARN = "RoleArn" // the role ARN the account uses now
	DataAction  = "Action"  // ActionKept or ActionSet
)

// Values of Data["Action"].
const (
	ActionKept = "kept" // the account already had a role; nothing changed
	ActionSet  = "set"  // the account had none; it now uses the shared role
)

// apiGatewayPrincipal is the service the shared role trusts.
const apiGatewayPrincipal = "apigateway.amazonaws.com"

// trustPolicy lets API Gateway assume the role, and nothing else.
const trustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` +
	apiGatewayPrincipal + `"},"Action":"sts:AssumeRole"}]}`

// roleDescription says, on the role itself, why it exists and that no
// stack owns it. IAM allows only Latin-1 here.
const roleDescription = "API Gateway's account-wide CloudWatch Logs role in every region of this account. " +
	"Created once by the apigwaccount custom resource of the first stack that needed it; " +
	"no stack deletes it, because every API that logs may depend on it."

// maxReasonBytes bounds the Reason sent to CloudFormation, whose whole
// response must stay under 4 KiB; the full error is in the log.
const maxReasonBytes = 1024

// AccountAPI is the part of API Gateway's control plane the function uses;
// *apigateway.Client is the real one.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *apigateway.GetAccountInput, optFns ...func(*apigateway.Options)) (*apigateway.GetAccountOutput, error)
	UpdateAccount(ctx context.Context, in *apigateway.UpdateAccountInput, optFns ...func(*apigateway.Options)) (*apigateway.UpdateAccountOutput, error)
}

var _ AccountAPI = (*apigateway.Client)(nil)

// RoleAPI is the part of IAM the function uses; *iam.Client is the real one.
type RoleAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, optFns ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, optFns ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
}

var _ RoleAPI = (*iam.Client)(nil)

// errRoleNotVisible: CreateRole said the role exists (another deploy made
// it) but GetRole does not show it yet, IAM being eventually consistent.
var errRoleNotVisible = errors.New("role exists but IAM does not show it yet")

// Handler is the custom resource function.
type Handler struct {
	account AccountAPI
	roles   RoleAPI
	log     *slog.Logger
	retry   retryPolicy
	clock   clock
	initErr error // set by Unavailable
}

// New returns the Handler that works through account and roles.
func New(account AccountAPI, roles RoleAPI, log *slog.Logger) *Handler {
	return &Handler{account: account, roles: roles, log: log, retry: defaultRetry, clock: realClock}
}

// Unavailable returns a Handler for a cold start that could not build its
// clients: it fails every Create and Update with cause and lets Delete
// succeed. Failing the cold start instead would leave CloudFormation
// without an answer, and the stack waiting for an hour.
func Unavailable(cause error, log *slog.Logger) *Handler {
	return &Handler{log: log, retry: defaultRetry, clock: realClock, initErr: cause}
}

// Handle is the Lambda handler: it runs the request and sends the result to
// CloudFormation's ResponseURL (cfn.LambdaWrap). It returns an error only
// when that answer could not be sent.
func (h *Handler) Handle(ctx context.Context, ev cfn.Event) (string, error) {
	return cfn.LambdaWrap(h.Run)(ctx, ev)
}

// Run carries out one request and returns what CloudFormation is told: the
// fixed PhysicalResourceID, and Data or an error (whose text becomes the
// Reason). It never logs the event whole: its ResponseURL is a pre-signed
// S3 URL that would let anyone reading the log answer for the stack.
func (h *Handler) Run(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	log := h.log.With("requestType", string(ev.RequestType), "requestId", ev.RequestID,
		"logicalResourceId", ev.LogicalResourceID, "stackId", ev.StackID)
	switch ev.RequestType {
	case cfn.RequestDelete:
		// Left in place on purpose: other APIs in this account and region
		// may log through the setting and the role, whoever set them.
		log.InfoContext(ctx, "delete: account setting and shared role left in place")
		return PhysicalResourceID, nil, nil
	case cfn.RequestCreate, cfn.RequestUpdate:
	default:
		return h.fail(ctx, log, fmt.Errorf("unknown request type %q", ev.RequestType))
	}
	if h.initErr != nil {
		return h.fail(ctx, log, fmt.Errorf("cold start: %w", h.initErr))
	}
	props, err := ParseProperties(ev.ResourceProperties)
	if err != nil {
		return h.fail(ctx, log, fmt.Errorf("invalid properties: %w", err))
	}
	log = log.With("roleName", props.RoleName)
	roleARN, action, err := h.ensure(ctx, log, props)
	if err != nil {
		return h.fail(ctx, log, err)
	}
	log.InfoContext(ctx, "API Gateway CloudWatch Logs role "+action, "action", action, "roleArn", roleARN)
	return PhysicalResourceID, map[string]any{DataRoleARN: roleARN, DataAction: action}, nil
}

func (h *Handler) fail(ctx context.Context, log *slog.Logger, err error) (string, map[string]any, error) {
	log.ErrorContext(ctx, "request failed", "error", err.Error())
	return PhysicalResourceID, nil, reasonError{err}
}

// ensure makes sure the account has a CloudWatch Logs role and returns it
// with what was done.
func (h *Handler) ensure(ctx context.Context, log *slog.Logger, p Properties) (roleARN, action string, err error) {
	ctx, cancel, err := h.budget(ctx)
	if err != nil {
		return "", "", err
	}
	defer cancel()

	// (1) A role already set is kept, whatever it is: it is the account
	// owner's choice, and other APIs log through it.
	var current string
	err = h.do(ctx, log, "get account", throttled, func(ctx context.Context) error {
		var err error
		current, err = h.accountRole(ctx)
		return err
	})
	if err != nil {
		return "", "", err
	}
	if current != "" {
		return current, ActionKept, nil
	}

	// (2) The shared, well-known role: one per account, whichever stack
	// came first.
	roleARN, err = h.ensureRole(ctx, log, p)
	if err != nil {
		return "", "", err
	}

	// (3) Set it, unless a concurrent writer set one meanwhile: read again
	// right before every try.
	err = h.do(ctx, log, "set account role", retryableAccount, func(ctx context.Context) error {
		current, err := h.accountRole(ctx)
		if err != nil {
			return err
		}
		if current != "" {
			roleARN, action = current, ActionKept
			return nil
		}
		_, err = h.account.UpdateAccount(ctx, &apigateway.UpdateAccountInput{
			PatchOperations: []agtypes.PatchOperation{{
				Op:    agtypes.OpReplace,
				Path:  aws.String("/cloudwatchRoleArn"),
				Value: aws.String(roleARN),
			}},
		})
		if err != nil {
			return fmt.Errorf("UpdateAccount cloudwatchRoleArn=%s: %w", roleARN, err)
		}
		action = ActionSet
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return roleARN, action, nil
}

// accountRole returns the account's CloudWatch Logs role ARN, "" for none.
func (h *Handler) accountRole(ctx context.Context) (string, error) {
	out, err := h.account.GetAccount(ctx, &apigateway.GetAccountInput{})
	if err != nil {
		return "", fmt.Errorf("GetAccount: %w", err)
	}
	return aws.ToString(out.CloudwatchRoleArn), nil
}

// ensureRole returns the ARN of the shared role, creating it if no deploy
// has yet, with the policy attached.
func (h *Handler) ensureRole(ctx context.Context, log *slog.Logger, p Properties) (string, error) {
	var roleARN string
	err := h.do(ctx, log, "ensure role "+p.RoleName, retryableIAM, func(ctx context.Context) error {
		var err error
		roleARN, err = h.getOrCreateRole(ctx, log, p)
		return err
	})
	if err != nil {
		return "", err
	}
	// Idempotent, and done even for a role found in place: a deploy that
	// died between CreateRole and here left it without.
	err = h.do(ctx, log, "attach policy", retryableIAM, func(ctx context.Context) error {
		_, err := h.roles.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(p.RoleName), PolicyArn: aws.String(p.PolicyARN)})
		if err != nil {
			return fmt.Errorf("AttachRolePolicy %s to %s: %w", p.PolicyARN, p.RoleName, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return roleARN, nil
}

func (h *Handler) getOrCreateRole(ctx context.Context, log *slog.Logger, p Properties) (string, error) {
	role, err := h.getRole(ctx, p.RoleName)
	if err != nil || role != nil {
		return roleARNOf(role), err
	}
	out, err := h.roles.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(p.RoleName),
		Path:                     aws.String(p.RolePath),
		AssumeRolePolicyDocument: aws.String(trustPolicy),
		Description:              aws.String(roleDescription),
	})
	var exists *iamtypes.EntityAlreadyExistsException
	switch {
	case err == nil:
		log.InfoContext(ctx, "shared role created", "roleArn", aws.ToString(out.Role.Arn))
		return aws.ToString(out.Role.Arn), nil
	case errors.As(err, &exists):
		// A concurrent deploy created it since our GetRole: use theirs.
		role, err := h.getRole(ctx, p.RoleName)
		if err != nil {
			return "", err
		}
		if role == nil {
			return "", fmt.Errorf("role %s: %w", p.RoleName, errRoleNotVisible)
		}
		log.InfoContext(ctx, "shared role created by a concurrent deploy", "roleArn", aws.ToString(role.Arn))
		return roleARNOf(role), nil
	default:
		return "", fmt.Errorf("CreateRole %s: %w", p.RoleName, err)
	}
}

// getRole returns the role named name, nil when there is none, or an error
// when it exists but API Gateway could never assume it.
func (h *Handler) getRole(ctx context.Context, name string) (*iamtypes.Role, error) {
	out, err := h.roles.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var missing *iamtypes.NoSuchEntityException
	if errors.As(err, &missing) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("GetRole %s: %w", name, err)
	}
	if out.Role == nil || aws.ToString(out.Role.Arn) == "" {
		return nil, fmt.Errorf("GetRole %s: answer has no role ARN", name)
	}
	// A role of that name made for something else would only fail later,
	// as UpdateAccount BadRequests retried until the deadline; say so now.
	if doc := aws.ToString(out.Role.AssumeRolePolicyDocument); doc != "" {
		if decoded, err := url.QueryUnescape(doc); err == nil {
			doc = decoded
		}
		if !strings.Contains(doc, apiGatewayPrincipal) {
			return nil, fmt.Errorf("role %s exists but its trust policy does not name %s, so API Gateway could not assume it: fix its trust policy or choose another %s",
				aws.ToString(out.Role.Arn), apiGatewayPrincipal, PropRoleName)
		}
	}
	return out.Role, nil
}

func roleARNOf(r *iamtypes.Role) string {
	if r == nil {
		return ""
	}
	return aws.ToString(r.Arn)
}

// reasonError is err with its text cut to what CloudFormation accepts as a
// Reason.
type reasonError struct{ err error }

func (e reasonError) Error() string {
	s := e.err.Error()
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes - len(" ... (see the function's log)")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " ... (see the function's log)"
}

func (e reasonError) Unwrap() error { return e.err }
