package connections

import "net/http"

// Response is what the disconnect function returns: {"statusCode":200}.
// $disconnect is a non-proxy integration and API Gateway ignores its result
// (the connection is already closed), so the body carries nothing else; the
// status is there for people invoking the function by hand. The connect
// function, behind a proxy integration, answers with aws-lambda-go's
// events.APIGatewayProxyResponse instead.
type Response struct {
	StatusCode int `json:"statusCode"`
}

// OK is the success Response.
var OK = Response{StatusCode: http.StatusOK}
