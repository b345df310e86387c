package message

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"wsapi/contract"
	"wsapi/lambdas/internal/env"
)

// Defaults and bounds of the limits; the bounds are the stack's.
const (
	DefaultMaxMessageBytes = 32 * 1024
	MaxMaxMessageBytes     = 96 * 1024 // leaves room in API Gateway's 128 KB frame
	DefaultMaxInFlight     = 16
	MaxMaxInFlight         = 256
)

// Limits bound what one invocation accepts and does.
type Limits struct {
	// MaxMessageBytes limits the UTF-8 length of the message string.
	MaxMessageBytes int
	// MaxInFlight bounds concurrent PostToConnection calls.
	MaxInFlight int
}

// Config is the function's configuration.
type Config struct {
	TableName          string
	PrincipalIndexName string
	// ConnectionsEndpoint is the Management API base URL,
	// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}.
	ConnectionsEndpoint string
	// FanOutQueueURL is the fan-out queue's URL, as SQS returns it:
	// https://sqs.{region}.amazonaws.com/{account}/{name}.
	FanOutQueueURL string
	Limits
}

// ConfigFromEnv reads Config from TABLE_NAME, PRINCIPAL_INDEX_NAME,
// CONNECTIONS_ENDPOINT (an http or https URL without query or fragment;
// http only makes sense for local runs), FANOUT_QUEUE_URL (see queueURL),
// MAX_MESSAGE_BYTES (1 to 98304, default 32768) and MAX_IN_FLIGHT (1 to 256,
// default 16). It reports every problem at once.
func ConfigFromEnv(getenv env.Getenv) (Config, error) {
	var c Config
	var errs [6]error
	c.TableName, errs[0] = env.Required(getenv, contract.EnvTableName)
	c.PrincipalIndexName, errs[1] = env.Required(getenv, contract.EnvPrincipalIndexName)
	c.ConnectionsEndpoint, errs[2] = env.URL(getenv, contract.EnvConnectionsEndpoint,
		"https://{api-id}.execute-api.{region}.amazonaws.com/{stage}")
	c.FanOutQueueURL, errs[3] = queueURL(getenv)
	c.MaxMessageBytes, errs[4] = env.Int(getenv, contract.EnvMaxMessageBytes, DefaultMaxMessageBytes, 1, MaxMaxMessageBytes)
	c.MaxInFlight, errs[5] = env.Int(getenv, contract.EnvMaxInFlight, DefaultMaxInFlight, 1, MaxMaxInFlight)
	if err := errors.Join(errs[:]...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// queueName is a standard queue's name: 1 to 80 letters, digits, hyphens
// and underscores. A FIFO queue's ends in ".fifo" and does not match: it
// would need a MessageGroupId on every send, and the fan-out relies on a
// standard queue.
var queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queueURL reads the fan-out queue's URL: an http or https URL with a host,
// without user, query or fragment, whose last path segment is a standard
// queue's name, as in https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue
// (http only makes sense for local runs). It checks no more than that: AWS
// says to use the URL exactly as SQS returns it, as its components may
// change, and names the rules for queue names ("Amazon SQS queue and message
// identifiers",
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-queue-message-identifiers.html;
// GetQueueUrl's QueueName,
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueUrl.html).
func queueURL(getenv env.Getenv) (string, error) {
	v, err := env.Required(getenv, contract.EnvFanOutQueueURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || !queueName.MatchString(u.Path[strings.LastIndex(u.Path, "/")+1:]) ||
		strings.Count(u.Path, "/") < 2 {
		return "", fmt.Errorf("%s=%q: want a standard queue's URL, https://sqs.{region}.amazonaws.com/{account}/{name}", contract.EnvFanOutQueueURL, v)
	}
	return v, nil
}
