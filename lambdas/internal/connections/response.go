package connections

import "net/http"

// Response is what the connect and disconnect functions return on success:
// {"statusCode":200}. API Gateway only looks at whether the integration
// succeeded (a function error refuses the connection), so the body carries
// nothing else; the status is there for people invoking the function by hand.
type Response struct {
	StatusCode int `json:"statusCode"`
}

// OK is the success Response.
var OK = Response{StatusCode: http.StatusOK}
