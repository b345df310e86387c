// Command testfn is the Lambda function the lambdaruntime tests run. What it
// does is chosen by each event's "op"; how it starts by TESTFN_INIT.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op      string   `json:"op"`
	Message string   `json:"message,omitempty"`
	MS      int      `json:"ms,omitempty"`   // sleep
	Code    int      `json:"code,omitempty"` // exit
	Keys    []string `json:"keys,omitempty"` // env
	Size    int      `json:"size,omitempty"` // big
	Stdout  string   `json:"stdout,omitempty"`
	Stderr  string   `json:"stderr,omitempty"`
}

type reply struct {
	Op         string            `json:"op"`
	Message    string            `json:"message,omitempty"`
	PID        int               `json:"pid"`
	Start      int64             `json:"start,omitempty"` // unix nanoseconds
	End        int64             `json:"end,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	RequestID  string            `json:"requestId,omitempty"`
	ARN        string            `json:"arn,omitempty"`
	DeadlineMS int64             `json:"deadlineMs,omitempty"`
	Statuses   map[string]int    `json:"statuses,omitempty"`
	Big        string            `json:"big,omitempty"`
}

// badInput is a typed error: aws-lambda-go reports its type name.
type badInput struct{ why string }

func (e *badInput) Error() string { return "bad input: " + e.why }

func main() {
	switch os.Getenv("TESTFN_INIT") {
	case "exit":
		fmt.Fprintln(os.Stderr, "init: giving up")
		os.Exit(2)
	case "initerror":
		post("/2018-06-01/runtime/init/error", `{"errorType":"Test.InitFailed","errorMessage":"config missing"}`)
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour)
	}
	lambda.Start(handle)
}

func handle(ctx context.Context, ev event) (*reply, error) {
	r := &reply{Op: ev.Op, Message: ev.Message, PID: os.Getpid()}
	switch ev.Op {
	case "echo":
	case "error":
		return nil, errors.New(ev.Message)
	case "typed":
		return nil, &badInput{why: ev.Message}
	case "sleep":
		fmt.Println("sleeping", ev.MS)
		r.Start = time.Now().UnixNano()
		time.Sleep(time.Duration(ev.MS) * time.Millisecond) // ignores ctx on purpose
		r.End = time.Now().UnixNano()
	case "panic":
		panic(ev.Message)
	case "exit":
		os.Exit(ev.Code)
	case "print":
		fmt.Print(ev.Stdout)
		fmt.Fprint(os.Stderr, ev.Stderr)
	case "env":
		r.Env = map[string]string{}
		for _, k := range ev.Keys {
			if v, ok := os.LookupEnv(k); ok {
				r.Env[k] = v
			}
		}
		lc, _ := lambdacontext.FromContext(ctx)
		r.RequestID, r.ARN = lc.AwsRequestID, lc.InvokedFunctionArn
		if d, ok := ctx.Deadline(); ok {
			r.DeadlineMS = d.UnixMilli()
		}
	case "big":
		r.Big = strings.Repeat("x", ev.Size)
	case "poke":
		// Misbehave against the Runtime API and report what it answered.
		r.Statuses = map[string]int{
			"wrongID":       post("/2018-06-01/runtime/invocation/not-a-request/response", `{}`),
			"lateInitError": post("/2018-06-01/runtime/init/error", `{"errorType":"Late","errorMessage":"too late"}`),
			"unknownPath":   post("/2018-06-01/runtime/nowhere", `{}`),
		}
	default:
		return nil, fmt.Errorf("unknown op %q", ev.Op)
	}
	return r, nil
}

// post sends body to the Runtime API and returns the status code (0 when the
// request failed).
func post(path, body string) int {
	resp, err := http.Post("http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
