package connections

// The event types below are the Go side of the contract documented in package
// wsapi/mappingtemplates: one field per JSON field the request templates of
// $disconnect, sendmessage and $default render, no more, no less. $connect
// has no template and no type here: it is a Lambda proxy integration, whose
// event is aws-lambda-go's events.APIGatewayWebsocketProxyRequest (see
// package wsapi/lambdas/internal/connect).

// Authorizer is the authorizer context API Gateway keeps for a connection,
// as the templates render it (every value a string, "" when absent). The
// connect function reads the proxy event's requestContext.authorizer into
// one too.
type Authorizer struct {
	PrincipalID string `json:"principalId"`
	Sub         string `json:"sub"`
	Username    string `json:"username"`
	Email       string `json:"email"`
	Scope       string `json:"scope"`
}

// RequestContext holds the fields every template renders.
type RequestContext struct {
	RouteKey         string     `json:"routeKey"`
	EventType        string     `json:"eventType"`
	ConnectionID     string     `json:"connectionId"`
	ConnectedAt      int64      `json:"connectedAt"`
	RequestID        string     `json:"requestId"`
	RequestTimeEpoch int64      `json:"requestTimeEpoch"`
	DomainName       string     `json:"domainName"`
	Stage            string     `json:"stage"`
	APIID            string     `json:"apiId"`
	SourceIP         string     `json:"sourceIp"`
	Authorizer       Authorizer `json:"authorizer"`
}

// DisconnectEvent is what mappingtemplates/disconnect.vtl renders.
type DisconnectEvent struct {
	RequestContext
}

// MessageEvent is what mappingtemplates/message.vtl renders for the
// sendmessage and $default routes. Body is the client's frame, verbatim.
type MessageEvent struct {
	RequestContext
	MessageID string `json:"messageId"`
	Body      string `json:"body"`
}
