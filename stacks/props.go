// Package stacks defines the app's CloudFormation stack: the WebSocket API
// of package websocketapi, configured from CDK context, and the stack's
// outputs.
package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"

	"wsapi/websocketapi"
)

// WebSocketStackProps configures NewWebSocketStack: the stack's own props
// and the construct's. The zero value of every field means its default.
type WebSocketStackProps struct {
	awscdk.StackProps
	websocketapi.WebSocketAPIProps
}

// Validate reports every invalid prop at once.
func (p WebSocketStackProps) Validate() error { return p.WebSocketAPIProps.Validate() }
