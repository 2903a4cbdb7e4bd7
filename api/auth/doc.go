// Package auth owns who may call the Kinesis API: it verifies AWS
// Signature Version 4 on requests against keys read from an AWS
// shared-credentials file, and decides each signed request with IAM-style
// identity policies (per principal, from a JSON file) and the resource
// policies stored on streams and consumers.
//
// It knows nothing of the engine or the wire encodings: the api package
// hands it the request, the body and the action's resource, and turns its
// *Error into the service's error reply. TLS is the server's business.
package auth
