// Package api serves a shardscope engine over the Amazon Kinesis Data
// Streams wire protocol, so the AWS SDKs, the AWS CLI and boto3 talk to it
// unchanged.
//
// It owns the wire layer and nothing else: the AWS JSON 1.1 envelope
// (POST, X-Amz-Target: Kinesis_20131202.<Action>), its CBOR variant
// (application/x-amz-cbor-1.1, the Java SDKs' default), member names and
// types, blobs and timestamps, error bodies, CORS, and an HTTP server that
// speaks HTTP/1.1 and cleartext HTTP/2 (or, with TLS, HTTPS with HTTP/2 by
// ALPN and HTTP/1.1) on one port and shuts down gracefully. When asked, it
// has api/auth verify each request's signature and decide it with IAM-style
// policies, naming the resource each action is about (access.go).
// Every action is a thin translation: decode the request,
// call the engine method of the same name, encode its result or its
// *engine.Error. The engine does all validation it can see; this package
// adds only the checks the engine cannot make (a member of the wrong type,
// a required member that is absent rather than zero or empty, an unknown
// action, a body too large to read).
//
// SubscribeToShard is the one reply that is not a single body: once the
// engine has accepted the subscription, it is HTTP 200 with an event
// stream (application/vnd.amazon.eventstream) of an initial-response, one
// flushed SubscribeToShardEvent message per engine event, and an exception
// message if the subscription fails mid-stream, for up to five minutes.
// Errors found before it starts are ordinary error replies.
package api
