package engine

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine/kms"
	"github.com/shardscope/shardscope/storage"
)

// Encryption at rest, as the service does it with KMS: a stream with
// encryption on seals every record it writes under a data key (envelope
// encryption). A data key is 256 bits of AES-GCM, made by the stream's KMS
// key (engine/kms) and kept only wrapped, in the stream's metadata. One
// data key serves a stream for one epoch: a new one starts with every
// engine, every StartStreamEncryption and every rotation of the KMS key.
//
// A record is sealed in storage's encoder, before it reaches the
// write-ahead log, so neither the log nor the bbolt file holds it in clear:
//
//	sealed = AES-256-GCM(body) | epoch (4 bytes, big-endian); sealed in
//	         place where storage built the body, so no clear copy remains
//	nonce  = shard index (4 bytes) | position (8 bytes), unique within
//	         the stream and so within the epoch's key; a fresh key per
//	         engine keeps a position re-used after a crash (its first
//	         write never acknowledged) from repeating a nonce
//	AAD    = stream name and creation time, shard, position, arrival and
//	         epoch: a record copied or moved anywhere else fails to open.

// Encryption types of the service.
const (
	EncryptionNone = "NONE"
	EncryptionKMS  = "KMS"
)

// MaxEncryptionChanges is how many times a stream's encryption may be
// started or stopped in a rolling 24 hours.
const MaxEncryptionChanges = 25

// StreamEncryptionInput is the input of StartStreamEncryption and
// StopStreamEncryption.
type StreamEncryptionInput struct {
	StreamRef
	EncryptionType string
	// KeyID names the KMS key: a key id, a key ARN, "alias/NAME", an alias
	// ARN, or kms.ManagedAlias.
	KeyID string
}

// streamEnc is a stream's encryption state, guarded by Engine.mu.
type streamEnc struct {
	keyID   string   // KeyId as given to StartStreamEncryption; "" when off
	key     *kms.Key // what keyID resolved to; nil when off
	changes []time.Time
	next    uint32   // the next epoch number
	cur     *dataKey // this engine's data key for writing; nil until needed
	chain   *keyChain
}

// keyChain is every data key of a stream by epoch, for readers (which
// hold no engine lock).
type keyChain struct {
	mu   sync.RWMutex
	keys map[uint32]*dataKey
}

func newKeyChain() *keyChain { return &keyChain{keys: map[uint32]*dataKey{}} }

func (c *keyChain) get(epoch uint32) *dataKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[epoch]
}

// dataKey is one epoch's data key.
type dataKey struct {
	meta    dataKeyMeta
	stream  string
	created int64 // the stream's creation, ms
	key     *kms.Key

	mu   sync.Mutex
	aead cipher.AEAD // nil until unwrapped
}

type dataKeyMeta struct {
	Epoch      uint32 `json:"epoch"`
	KeyID      string `json:"key_id"` // the KMS key's id
	KeyVersion int    `json:"key_version"`
	Wrapped    []byte `json:"wrapped"`
	Created    int64  `json:"created_ms"`
}

type encMeta struct {
	KeyID    string        `json:"key_id,omitempty"`
	KMSKey   string        `json:"kms_key,omitempty"` // the resolved key's id
	Changes  []int64       `json:"changes_ms,omitempty"`
	Next     uint32        `json:"next_epoch"`
	DataKeys []dataKeyMeta `json:"data_keys,omitempty"`
}

// wrapContext is the encryption context of a data key: it only unwraps
// for the same stream (and creation) and epoch.
func wrapContext(stream string, created int64, epoch uint32) []byte {
	return fmt.Appendf(nil, "kinesis:stream=%s;created=%d;epoch=%d", stream, created, epoch)
}

// aeadOf unwraps the data key on first use. A KMS failure is not kept: a
// key enabled again unwraps on the next read.
func (d *dataKey) aeadOf() (cipher.AEAD, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aead != nil {
		return d.aead, nil
	}
	plain, err := d.key.Decrypt(d.meta.KeyVersion, d.meta.Wrapped, wrapContext(d.stream, d.created, d.meta.Epoch))
	if err != nil {
		return nil, err
	}
	d.aead = newGCM(plain)
	clear(plain)
	return d.aead, nil
}

func newGCM(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // data keys are 32 bytes
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

func recordNonce(shard uint32, pos uint64) [12]byte {
	var n [12]byte
	binary.BigEndian.PutUint32(n[:], shard)
	binary.BigEndian.PutUint64(n[4:], pos)
	return n
}

func recordAAD(dst []byte, stream string, created int64, shard uint32, pos uint64, arrival int64, epoch uint32) []byte {
	dst = append(dst, "kinesis-record-v1"...)
	dst = binary.AppendUvarint(dst, uint64(len(stream)))
	dst = append(dst, stream...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(created))
	dst = binary.BigEndian.AppendUint32(dst, shard)
	dst = binary.BigEndian.AppendUint64(dst, pos)
	dst = binary.BigEndian.AppendUint64(dst, uint64(arrival))
	return binary.BigEndian.AppendUint32(dst, epoch)
}

// sealScratch holds a record's nonce and associated data: passed to the
// AEAD interface they would escape, costing two allocations per record.
type sealScratch struct {
	nonce [12]byte
	aad   []byte
}

var scratchPool = sync.Pool{New: func() any { return &sealScratch{aad: make([]byte, 0, 128)} }}

// Seal implements storage.Sealer for the epoch's writes.
func (d *dataKey) Seal(dst []byte, ref storage.ShardRef, pos uint64, arrival int64, body []byte) ([]byte, error) {
	sc := scratchPool.Get().(*sealScratch)
	sc.aad = recordAAD(sc.aad[:0], d.stream, d.created, ref.Shard, pos, arrival, d.meta.Epoch)
	sc.nonce = recordNonce(ref.Shard, pos)
	dst = d.aead.Seal(dst, sc.nonce[:], body, sc.aad)
	scratchPool.Put(sc)
	return binary.BigEndian.AppendUint32(dst, d.meta.Epoch), nil
}

// Open implements storage.Opener: it finds the record's data key by its
// epoch and opens it. KMS refusals come back as the service's errors; a
// record that does not authenticate is damage, never other data.
func (c *keyChain) Open(dst []byte, ref storage.ShardRef, pos uint64, arrival int64, sealed []byte) ([]byte, error) {
	if len(sealed) < 4+16 {
		return nil, &storage.DamageError{Shard: ref, Position: pos, Reason: "sealed record too short"}
	}
	epoch := binary.BigEndian.Uint32(sealed[len(sealed)-4:])
	sealed = sealed[:len(sealed)-4]
	d := c.get(epoch)
	if d == nil {
		return nil, newError(KMSAccessDeniedException, "The record at %s in shard %s of stream %s was sealed by data key %d, which this stream does not have.", formatSeq(ref.Shard, pos), shardID(ref.Shard), ref.Stream, epoch)
	}
	if err := d.key.CheckDecrypt(); err != nil {
		return nil, kmsError(err)
	}
	aead, err := d.aeadOf()
	if err != nil {
		return nil, kmsError(err)
	}
	sc := scratchPool.Get().(*sealScratch)
	sc.aad = recordAAD(sc.aad[:0], d.stream, d.created, ref.Shard, pos, arrival, d.meta.Epoch)
	sc.nonce = recordNonce(ref.Shard, pos)
	body, err := aead.Open(dst, sc.nonce[:], sealed, sc.aad)
	scratchPool.Put(sc)
	if err != nil {
		return nil, &storage.DamageError{Shard: ref, Position: pos, Reason: "sealed record fails authentication: altered, or moved from elsewhere"}
	}
	return body, nil
}

// kmsError turns a keyring failure into the Kinesis error of the same name.
func kmsError(err error) error {
	code := InternalFailure
	switch kms.KindOf(err) {
	case kms.KindNotFound:
		code = KMSNotFoundException
	case kms.KindDisabled:
		code = KMSDisabledException
	case kms.KindInvalidState:
		code = KMSInvalidStateException
	case kms.KindAccessDenied:
		code = KMSAccessDeniedException
	case kms.KindInvalid:
		code = InvalidArgumentException
	default:
		return internalError(err)
	}
	return &Error{Code: code, Message: err.Error(), Err: err}
}

// StartStreamEncryption turns encryption on, or moves it to another key:
// records written from now on are sealed under a data key of that KMS key.
// The stream is UPDATING for Options.UpdateDelay; records written before
// stay as they were.
func (e *Engine) StartStreamEncryption(ctx context.Context, in StreamEncryptionInput) error {
	return e.changeEncryption(ctx, in, true)
}

// StopStreamEncryption turns encryption off: records written from now on
// are not sealed; those written before stay sealed and readable.
func (e *Engine) StopStreamEncryption(ctx context.Context, in StreamEncryptionInput) error {
	return e.changeEncryption(ctx, in, false)
}

func (e *Engine) changeEncryption(ctx context.Context, in StreamEncryptionInput, start bool) error {
	v := newValidator(ctx, "encryptionType", "keyId", "streamName", "streamARN")
	v.ref(in.StreamRef)
	if v.required(in.EncryptionType != "", "encryptionType") && in.EncryptionType != EncryptionKMS && in.EncryptionType != EncryptionNone {
		v.add(in.EncryptionType, "encryptionType", "Member must satisfy enum value set: [NONE, KMS]")
	}
	if v.required(in.KeyID != "", "keyId") {
		v.length(in.KeyID, "keyId", 1, 2048)
	}
	if err := v.err(); err != nil {
		return err
	}
	if in.EncryptionType != EncryptionKMS {
		return newError(InvalidArgumentException, "Encryption type %s is not supported; use KMS.", in.EncryptionType)
	}
	var key *kms.Key
	if start {
		var err error
		if key, err = e.keys.Resolve(in.KeyID); err != nil {
			return kmsError(err)
		}
		if err := key.Check(); err != nil {
			return kmsError(err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return err
	}
	now := e.clock.Now()
	if !start {
		if s.enc.key == nil {
			return nil // already off
		}
		if in.KeyID != s.enc.keyID && in.KeyID != s.enc.key.ID && in.KeyID != s.enc.key.ARN {
			if k, err := e.keys.Resolve(in.KeyID); err != nil || k != s.enc.key {
				return newError(InvalidArgumentException, "KeyId %s is not the key stream %s under account %s is encrypted with.", in.KeyID, s.name, e.opts.AccountID)
			}
		}
	}
	var recent []time.Time
	for _, t := range s.enc.changes {
		if now.Sub(t) < 24*time.Hour {
			recent = append(recent, t)
		}
	}
	if len(recent) >= MaxEncryptionChanges {
		return newError(LimitExceededException, "Encryption of stream %s under account %s was changed %d times in the last 24 hours; at most %d changes are allowed in a rolling 24 hours.", s.name, e.opts.AccountID, len(recent), MaxEncryptionChanges)
	}
	old := s.enc
	s.enc.changes = append(recent, now)
	s.enc.cur = nil // a new epoch, under the new key or none
	if start {
		s.enc.keyID, s.enc.key = in.KeyID, key
	} else {
		s.enc.keyID, s.enc.key = "", nil
	}
	s.updatingUntil = now.Add(e.opts.UpdateDelay)
	if err := e.saveStream(s); err != nil {
		s.enc = old
		return err
	}
	if start {
		e.event(EventStream, s.name, "", "encryption of %s on: KMS key %s", s.name, in.KeyID)
	} else {
		e.event(EventStream, s.name, "", "encryption of %s off: new records are stored in clear", s.name)
	}
	return nil
}

// errNewDataKey says a write needs a data key made first.
var errNewDataKey = errors.New("engine: stream needs a new data key")

// sealer returns the stream's sealer for a write: nil when encryption is
// off, a KMS error when its key cannot encrypt, errNewDataKey when the
// epoch must change first (none yet, or the KMS key rotated). e.mu is held
// (shared is enough).
func (e *Engine) sealer(s *stream) (storage.Sealer, error) {
	key := s.enc.key
	if key == nil {
		return nil, nil
	}
	if err := key.Check(); err != nil {
		return nil, kmsError(err)
	}
	cur := s.enc.cur
	if cur == nil || cur.key != key || cur.meta.KeyVersion != key.CurrentVersion() {
		return nil, errNewDataKey
	}
	return cur, nil
}

// newDataKey starts a new epoch for the stream ref names, unless another
// writer already did.
func (e *Engine) newDataKey(ref StreamRef) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forData(ref)
	if err != nil {
		return err
	}
	if _, err := e.sealer(s); err != errNewDataKey {
		return err
	}
	key := s.enc.key
	epoch := s.enc.next
	created := s.created.UnixMilli()
	plain, wrapped, version, err := key.GenerateDataKey(wrapContext(s.name, created, epoch))
	if err != nil {
		return kmsError(err)
	}
	d := &dataKey{
		meta:   dataKeyMeta{Epoch: epoch, KeyID: key.ID, KeyVersion: version, Wrapped: wrapped, Created: e.clock.Now().UnixMilli()},
		stream: s.name, created: created, key: key, aead: newGCM(plain),
	}
	clear(plain)
	old := s.enc
	s.enc.next, s.enc.cur = epoch+1, d
	// The wrapped key is durable before any record sealed by it is queued.
	s.enc.chain.mu.Lock()
	s.enc.chain.keys[epoch] = d
	s.enc.chain.mu.Unlock()
	pruned := e.pruneDataKeys(s)
	if err := e.saveStream(s); err != nil {
		s.enc = old
		s.enc.chain.mu.Lock()
		delete(s.enc.chain.keys, epoch)
		for _, p := range pruned {
			s.enc.chain.keys[p.meta.Epoch] = p
		}
		s.enc.chain.mu.Unlock()
		return err
	}
	return nil
}

// dataKeyGrace is how long past the retention period a superseded data
// key is kept, beyond what the trimmer needs to remove its records.
const dataKeyGrace = time.Hour

// pruneDataKeys forgets data keys whose records have all expired: an
// epoch's records are older than the next epoch's creation, so once that
// creation is past the retention period (and a grace), none is readable.
// e.mu is held.
func (e *Engine) pruneDataKeys(s *stream) []*dataKey {
	cutoff := e.clock.Now().Add(-time.Duration(s.retention)*time.Hour - dataKeyGrace).UnixMilli()
	c := s.enc.chain
	c.mu.Lock()
	defer c.mu.Unlock()
	var pruned []*dataKey
	for epoch, d := range c.keys {
		if next := c.keys[epoch+1]; next != nil && next.meta.Created < cutoff {
			pruned = append(pruned, d)
		}
	}
	for _, d := range pruned {
		delete(c.keys, d.meta.Epoch)
	}
	return pruned
}

func (s *stream) encMeta() *encMeta {
	if s.enc.key == nil && s.enc.next == 0 && len(s.enc.changes) == 0 {
		return nil
	}
	m := &encMeta{KeyID: s.enc.keyID, Next: s.enc.next}
	if s.enc.key != nil {
		m.KMSKey = s.enc.key.ID
	}
	for _, t := range s.enc.changes {
		m.Changes = append(m.Changes, ms(t))
	}
	s.enc.chain.mu.RLock()
	for _, d := range s.enc.chain.keys {
		m.DataKeys = append(m.DataKeys, d.meta)
	}
	s.enc.chain.mu.RUnlock()
	slices.SortFunc(m.DataKeys, func(a, b dataKeyMeta) int { return cmp.Compare(a.Epoch, b.Epoch) })
	return m
}

// loadEnc restores a stream's encryption state; keys are looked up lazily,
// so a key disabled or gone fails the records it sealed, not the start.
func (e *Engine) loadEnc(s *stream, m *encMeta) {
	s.enc.chain = newKeyChain()
	if m == nil {
		return
	}
	s.enc.keyID, s.enc.next = m.KeyID, m.Next
	if m.KMSKey != "" {
		s.enc.key = e.keys.Key(m.KMSKey)
	}
	for _, t := range m.Changes {
		s.enc.changes = append(s.enc.changes, fromMs(t))
	}
	created := s.created.UnixMilli()
	for _, dk := range m.DataKeys {
		s.enc.chain.keys[dk.Epoch] = &dataKey{meta: dk, stream: s.name, created: created, key: e.keys.Key(dk.KeyID)}
	}
}

// encryption reports a stream's EncryptionType and KeyId. e.mu is held.
func (s *stream) encryption() (string, string) {
	if s.enc.key == nil {
		return EncryptionNone, ""
	}
	return EncryptionKMS, s.enc.keyID
}

// Keyring returns the engine's keyring.
func (e *Engine) Keyring() *kms.Keyring { return e.keys }
