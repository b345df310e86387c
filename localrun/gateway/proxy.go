package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"

	"wsapi/vtl"
)

// proxyEvent is the event a Lambda proxy (AWS_PROXY) integration of a
// WebSocket route receives. AWS documents no schema for it; its fields are
// those of aws-lambda-go's events.APIGatewayWebsocketProxyRequest that the
// events captured from API Gateway carry (aws-lambda-go's
// events/testdata/apigw-websocket-request*.json, aws-lambda-go#548,
// aws-lambda-runtime-interface-emulator#25): see FIDELITY.md.
type proxyEvent struct {
	Headers                         map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders,omitempty"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters,omitempty"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters,omitempty"`
	StageVariables                  map[string]string   `json:"stageVariables,omitempty"`
	RequestContext                  proxyRequestContext `json:"requestContext"`
	Body                            *string             `json:"body,omitempty"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type proxyRequestContext struct {
	RouteKey             string            `json:"routeKey"`
	MessageID            string            `json:"messageId,omitempty"`
	DisconnectStatusCode int               `json:"disconnectStatusCode,omitempty"`
	EventType            string            `json:"eventType"`
	ExtendedRequestID    string            `json:"extendedRequestId"`
	RequestTime          string            `json:"requestTime"`
	MessageDirection     string            `json:"messageDirection"`
	DisconnectReason     *string           `json:"disconnectReason,omitempty"`
	Stage                string            `json:"stage"`
	ConnectedAt          int64             `json:"connectedAt"`
	RequestTimeEpoch     int64             `json:"requestTimeEpoch"`
	Identity             proxyIdentity     `json:"identity"`
	RequestID            string            `json:"requestId"`
	DomainName           string            `json:"domainName"`
	ConnectionID         string            `json:"connectionId"`
	APIID                string            `json:"apiId"`
	Authorizer           map[string]string `json:"authorizer,omitempty"`
}

type proxyIdentity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// newProxyEvent is the event of one request on a connection, from the same
// context the templates see.
func newProxyEvent(data vtl.APIGatewayData) proxyEvent {
	c := data.Context
	ev := proxyEvent{
		StageVariables: data.StageVariables,
		RequestContext: proxyRequestContext{
			RouteKey:          c.RouteKey,
			MessageID:         c.MessageID,
			EventType:         c.EventType,
			ExtendedRequestID: c.ExtendedRequestID,
			RequestTime:       c.RequestTime,
			MessageDirection:  c.MessageDirection,
			Stage:             c.Stage,
			ConnectedAt:       c.ConnectedAt,
			RequestTimeEpoch:  c.RequestTimeEpoch,
			Identity:          proxyIdentity{SourceIP: c.Identity.SourceIP, UserAgent: c.Identity.UserAgent},
			RequestID:         c.RequestID,
			DomainName:        c.DomainName,
			ConnectionID:      c.ConnectionID,
			APIID:             c.APIID,
		},
	}
	if c.Authorizer != nil {
		// Every value as the string templates see too.
		ev.RequestContext.Authorizer = make(map[string]string, len(c.Authorizer))
		for k, v := range c.Authorizer {
			ev.RequestContext.Authorizer[k] = fmt.Sprint(v)
		}
	}
	return ev
}

// connectProxyEvent is the CONNECT event: the handshake's headers and query
// string (the token is there: never log the event).
func connectProxyEvent(data vtl.APIGatewayData, r *http.Request) proxyEvent {
	ev := newProxyEvent(data)
	ev.Headers, ev.MultiValueHeaders = requestHeaders(r)
	ev.QueryStringParameters, ev.MultiValueQueryStringParameters = queryParameters(r.URL.Query())
	return ev
}

// messageProxyEvent is the MESSAGE event: the frame as body, never base64
// (API Gateway accepts text frames only).
func messageProxyEvent(data vtl.APIGatewayData, body string) proxyEvent {
	ev := newProxyEvent(data)
	ev.Body = &body
	return ev
}

// disconnectHeaders are the headers of every DISCONNECT event captured from
// API Gateway (aws-lambda-go's apigw-websocket-request-disconnect.json):
// Host, and three that are always empty.
var disconnectHeaders = []string{"x-api-key", "X-Forwarded-For", "x-restapi"}

// disconnectProxyEvent is the DISCONNECT event, with the close frame's
// status code and reason.
func disconnectProxyEvent(data vtl.APIGatewayData, status int, reason string) proxyEvent {
	ev := newProxyEvent(data)
	ev.Headers = map[string]string{"Host": data.Context.DomainName}
	ev.MultiValueHeaders = map[string][]string{"Host": {data.Context.DomainName}}
	for _, h := range disconnectHeaders {
		ev.Headers[h], ev.MultiValueHeaders[h] = "", []string{""}
	}
	ev.RequestContext.DisconnectStatusCode = status
	ev.RequestContext.DisconnectReason = &reason
	return ev
}

// requestHeaders are the handshake's headers, Host included; a header sent
// more than once keeps its last value in headers, as API Gateway's REST
// proxy events do (set-up-lambda-proxy-integrations).
func requestHeaders(r *http.Request) (map[string]string, map[string][]string) {
	single := make(map[string]string, len(r.Header)+1)
	multi := make(map[string][]string, len(r.Header)+1)
	for k, v := range r.Header {
		single[k] = v[len(v)-1]
		multi[k] = v
	}
	single["Host"], multi["Host"] = r.Host, []string{r.Host}
	return single, multi
}

// queryParameters are the query string's parameters, nil without any; a
// parameter given more than once keeps its last value in the single map.
func queryParameters(q url.Values) (map[string]string, map[string][]string) {
	if len(q) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(q))
	for k, v := range q {
		single[k] = v[len(v)-1]
	}
	return single, maps.Clone(map[string][]string(q))
}

// proxyResponse is what a proxy integration's function returns, as far as
// a WebSocket route uses it.
type proxyResponse struct {
	StatusCode *int              `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       *string           `json:"body"`
}

// parseProxyResponse decodes a function's proxy response. A payload that is
// not a JSON object of that shape is malformed, as API Gateway calls it.
func parseProxyResponse(payload []byte) (proxyResponse, error) {
	var resp proxyResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		return proxyResponse{}, fmt.Errorf("malformed Lambda proxy response: %w", err)
	}
	return resp, nil
}
