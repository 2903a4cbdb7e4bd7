package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream/eventstreamapi"
	"github.com/shardscope/shardscope/engine"
)

// ContentTypeEventStream is the content type of a SubscribeToShard reply:
// a sequence of binary event-stream messages.
const ContentTypeEventStream = "application/vnd.amazon.eventstream"

// streamWriteTimeout bounds the write of one event-stream message, so a
// client that stops reading cannot hold a subscription (and a goroutine)
// past its end.
const streamWriteTimeout = 30 * time.Second

// streamReply is what an action returns instead of a reply body when the
// reply is a stream; it writes the whole response and returns the status.
type streamReply interface {
	serveStream(h *handler, w http.ResponseWriter, r *http.Request, c wireCodec) int
}

// drainKey is the request context key under which Server puts a context
// that ends when the server starts shutting down: streams then end
// cleanly (clients re-subscribe) instead of holding the shutdown for up to
// five minutes.
type drainKey struct{}

// eventStream is a started SubscribeToShard call.
type eventStream struct{ sub *engine.FanOutSubscription }

// subscribeEvent is the payload of a SubscribeToShardEvent message. A
// closed shard's last event has ChildShards and no
// ContinuationSequenceNumber (the KCL reads its absence as the shard's
// end); every other event the reverse.
type subscribeEvent struct {
	Records                    []record     `json:"Records"`
	ContinuationSequenceNumber string       `json:"ContinuationSequenceNumber,omitempty"`
	MillisBehindLatest         int64        `json:"MillisBehindLatest"`
	ChildShards                []childShard `json:"ChildShards,omitempty"`
}

// The exceptions the SubscribeToShardEventStream union declares; an engine
// error of another name is still sent under its own name (the SDKs then
// report a generic API error with that code).
const internalFailureException = "InternalFailureException"

// serveStream answers with HTTP 200 and an event stream: the
// initial-response, then one SubscribeToShardEvent per engine event, each
// flushed at once. It ends the body cleanly when the subscription ends
// (expiry, end of shard), the client goes away or the server shuts down;
// an engine error ends it with an exception message.
func (s *eventStream) serveStream(h *handler, w http.ResponseWriter, r *http.Request, c wireCodec) (status int) {
	sub := s.sub
	defer sub.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if drain, ok := r.Context().Value(drainKey{}).(context.Context); ok {
		defer context.AfterFunc(drain, cancel)()
	}
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(), c: c}
	w.Header().Set("Content-Type", ContentTypeEventStream)
	w.WriteHeader(http.StatusOK)
	events, reason := 0, "expired or shard ended"
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic streaming SubscribeToShard", "panic", p, "stack", string(debug.Stack()))
			ew.exception(internalFailureException, "Internal service failure.")
			reason = "panic"
		}
		h.log.Debug("subscription ended", "consumer", sub.ConsumerARN(), "shard", sub.ShardID(), "events", events, "reason", reason)
	}()
	// The SDKs read the initial-response before they return to the caller.
	if err := ew.initial(); err != nil {
		reason = "write failed: " + err.Error()
		return http.StatusOK
	}
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
			case ctx.Err() != nil:
				reason = "client gone or server shutting down"
			default:
				ae := toAPIError(err)
				name := ae.Code
				if name == string(engine.InternalFailure) {
					name = internalFailureException
					h.log.Error("internal failure in SubscribeToShard", "message", ae.Message, "cause", ae.cause)
				}
				reason = name
				if err := ew.exception(name, ae.Message); err != nil {
					reason += "; write failed: " + err.Error()
				}
			}
			return http.StatusOK
		}
		if err := ew.event(ev); err != nil {
			reason = "write failed: " + err.Error()
			return http.StatusOK
		}
		events++
	}
}

// eventWriter encodes event-stream messages onto a response, flushing each.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
	c   wireCodec
}

func (ew *eventWriter) initial() error {
	payload, err := ew.c.marshal(empty{})
	if err != nil {
		return err
	}
	return ew.send(eventstream.Message{Headers: eventstream.Headers{
		{Name: eventstreamapi.MessageTypeHeader, Value: eventstream.StringValue(eventstreamapi.EventMessageType)},
		{Name: eventstreamapi.EventTypeHeader, Value: eventstream.StringValue("initial-response")},
	}, Payload: payload})
}

func (ew *eventWriter) event(ev engine.SubscriptionEvent) error {
	payload, err := ew.c.marshal(subscribeEvent{
		Records: toRecords(ev.Records), ContinuationSequenceNumber: ev.ContinuationSequenceNumber,
		MillisBehindLatest: ev.MillisBehindLatest, ChildShards: toChildShards(ev.ChildShards),
	})
	if err != nil {
		return fmt.Errorf("encoding event: %w", err)
	}
	return ew.send(eventstream.Message{Headers: eventstream.Headers{
		{Name: eventstreamapi.MessageTypeHeader, Value: eventstream.StringValue(eventstreamapi.EventMessageType)},
		{Name: eventstreamapi.EventTypeHeader, Value: eventstream.StringValue("SubscribeToShardEvent")},
		{Name: eventstreamapi.ContentTypeHeader, Value: eventstream.StringValue(ew.contentType())},
	}, Payload: payload})
}

func (ew *eventWriter) exception(name, message string) error {
	payload, err := ew.c.marshal(struct {
		Message string `json:"message"`
	}{message})
	if err != nil {
		return err
	}
	return ew.send(eventstream.Message{Headers: eventstream.Headers{
		{Name: eventstreamapi.MessageTypeHeader, Value: eventstream.StringValue(eventstreamapi.ExceptionMessageType)},
		{Name: eventstreamapi.ExceptionTypeHeader, Value: eventstream.StringValue(name)},
		{Name: eventstreamapi.ContentTypeHeader, Value: eventstream.StringValue(ew.contentType())},
	}, Payload: payload})
}

// contentType is the :content-type of event payloads: what the Go SDK's
// own JSON event codec writes, or the CBOR type for CBOR clients.
func (ew *eventWriter) contentType() string {
	if ew.c.cbor {
		return ContentTypeCBOR
	}
	return "application/json"
}

// send writes one message and flushes it to the client (a chunk on
// HTTP/1.1, DATA frames on HTTP/2). The write deadline is cleared after
// each message: on HTTP/1.1 it belongs to the connection, which outlives
// this response.
func (ew *eventWriter) send(msg eventstream.Message) error {
	_ = ew.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) // not every writer supports deadlines
	defer ew.rc.SetWriteDeadline(time.Time{})
	if err := ew.enc.Encode(ew.w, msg); err != nil {
		return err
	}
	if err := ew.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err // a writer that cannot flush still delivers, only later
	}
	return nil
}
