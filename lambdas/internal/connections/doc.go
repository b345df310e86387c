// Package connections is the backend's view of WebSocket connections: the
// events the request mapping templates render (ConnectEvent, DisconnectEvent,
// MessageEvent; the contract is documented in package wsapi/mappingtemplates)
// and the DynamoDB table that records who is connected.
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
//	Lister   Scan, Query  (message: every connection, or one principal's via the index)
package connections
