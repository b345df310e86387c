// Package connections is the backend's view of WebSocket connections: the
// events the functions receive and the DynamoDB table that records who is
// connected.
//
// # Events
//
//	route                  integration       event
//	$connect               Lambda proxy      aws-lambda-go events.APIGatewayWebsocketProxyRequest
//	$disconnect            non-proxy (AWS)   DisconnectEvent, rendered by mappingtemplates/disconnect.vtl
//	sendmessage, $default  non-proxy (AWS)   MessageEvent, rendered by mappingtemplates/message.vtl
//
// $connect is a proxy integration so that its function can refuse the
// handshake with a status code (see package wsapi/lambdas/internal/connect).
// The template contract of the other routes is documented in package
// wsapi/mappingtemplates and checked by this package's contract and fuzz
// tests. RequestLogAttrs gives every function the same log keys for the
// request ids, whichever its event.
//
// # Table
//
// Partition key connectionId (S). Each item holds connectionId (S),
// principalId (S), connectedAt (N, epoch milliseconds) and expiresAt (N, epoch
// seconds, the table's TTL attribute). A global secondary index, keyed by
// principalId with a KEYS_ONLY projection, finds a principal's connections.
//
// The adapters here each need one or two DynamoDB operations and take the
// narrowest client interface that has them, so a function's IAM policy and
// its tests only deal with what it calls:
//
//	Writer   PutItem      ($connect)
//	Deleter  DeleteItem   ($disconnect; message, for gone connections)
//	Lister   Query        (message: one principal's connections, via the index)
package connections
