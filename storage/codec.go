package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// Codec turns every record's payload into the bytes kept on disk and back,
// store-wide. Encryption at rest, which is per stream and per record, uses
// Append.Seal (a Sealer) instead.
//
// Open's input points into a database page that is only valid during the
// call: Open must not keep it, but may return it (as the identity codec
// does), since storage copies what it keeps. Both must be safe for
// concurrent use.
type Codec interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// Sealer seals the records of one Append (Append.Seal): storage calls it
// while encoding, before a record reaches the write-ahead log, so neither
// the log nor the bbolt file ever holds the body in clear. It must be safe
// for concurrent use.
type Sealer interface {
	// Seal appends to dst the sealed form of body, the record at pos of ref
	// arriving at arrival (the associated data that binds it there). body
	// sits in dst's spare capacity, starting at len(dst), so it can be
	// encrypted in place (cipher.AEAD allows exactly that overlap) and no
	// clear copy is left behind: Seal must write nothing before it has
	// read the body.
	Seal(dst []byte, ref ShardRef, pos uint64, arrival int64, body []byte) ([]byte, error)
}

// Opener reverses a Sealer for Record.Unseal.
type Opener interface {
	// Open appends to dst the body sealed for the record at pos of ref
	// arriving at arrival, or fails if sealed was altered or moved.
	Open(dst []byte, ref ShardRef, pos uint64, arrival int64, sealed []byte) ([]byte, error)
}

// identityCodec stores payloads as they are. encodeValue and the size/decode
// paths recognise it to skip a copy.
type identityCodec struct{}

func (identityCodec) Seal(plain []byte) ([]byte, error)  { return plain, nil }
func (identityCodec) Open(sealed []byte) ([]byte, error) { return sealed, nil }

// Record value layout. This is the only place it is defined.
//
//	[0]     valueTag, the format-2 mark
//	[1:5]   CRC-32C (Castagnoli), big-endian, of [5:] followed by the
//	        record's 8-byte key (its position): damage to the value, or a
//	        value found under another key, fails it
//	[5:13]  arrival, Unix ms, big-endian int64. Left in clear so the trimmer
//	        and SeekArrival can read it without unsealing the rest.
//	[13:]   Codec.Seal(body), where body is
//	          uvarint len(PartitionKey) | PartitionKey
//	          1 byte len(ExplicitHashKey), 0 or 16 | ExplicitHashKey
//	          Data
//
// A sealed value (Append.Seal) has sealedTag in [0], its CRC also covers
// the tag (so a flipped tag cannot pass for the other format), and [13:] is
//
//	uvarint payload (len(PartitionKey)+len(Data), counted without the key)
//	Sealer.Seal(body)
//
// Format 1 (stores of schema version 1, before checksums) was [0:8] arrival,
// [8:] sealed body. Its first byte is the top byte of an arrival, 0x00 (or
// 0xFF before 1970), which valueTag is not, nor one bit away from: the
// codec tells the two apart, so a store of version 1 opens and is upgraded
// in place (upgrade.go), and a crash midway leaves values of both formats
// that are still read right.
const (
	valueTag       = 0x96
	sealedTag      = 0x69 // valueTag's complement: 8 bits from it, 4 from 0x00 and 0xFF
	crcLen         = 4
	arrivalLen     = 8
	headerLen      = 1 + crcLen + arrivalLen // format 2
	v1HeaderLen    = arrivalLen
	explicitKeyLen = 16
)

var errBadValue = fmt.Errorf("%w: malformed record value", ErrCorrupt)

// DamageError is a stored record that fails its checksum or cannot be
// decoded. It wraps ErrCorrupt.
type DamageError struct {
	Shard    ShardRef
	Position uint64
	Reason   string
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("record %s at position %d is damaged (%s)", e.Shard, e.Position, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *DamageError) Unwrap() error { return ErrCorrupt }

// recordCRC is the checksum of a format-2 value v stored under key.
func recordCRC(key, v []byte) uint32 {
	crc := crc32.Update(crc32.Update(0, crcTable, v[1+crcLen:]), crcTable, key)
	if v[0] == sealedTag {
		crc = crc32.Update(crc, crcTable, v[:1])
	}
	return crc
}

// isFormat2 reports whether v is a format-2 value, sealed or not.
func isFormat2(v []byte) bool { return len(v) >= headerLen && (v[0] == valueTag || v[0] == sealedTag) }

// encodeValue builds the stored value of r, sealed by s unless s is nil
// (then c applies).
func encodeValue(c Codec, r *Record, s Sealer, ref ShardRef) ([]byte, error) {
	if n := len(r.ExplicitHashKey); n != 0 && n != explicitKeyLen {
		return nil, fmt.Errorf("explicit hash key is %d bytes, want 0 or %d", n, explicitKeyLen)
	}
	bodyLen := binary.MaxVarintLen64 + len(r.PartitionKey) + 1 + len(r.ExplicitHashKey) + len(r.Data)
	// Every value gets 8 bytes of spare capacity for the key the checksum
	// covers: a key of its own would be one more allocation per record.
	var v []byte
	if s != nil {
		// Room for the payload length and a sealer's usual overhead (a
		// 16-byte tag and a few bytes of its own) besides the key. The body
		// is built where the sealed bytes go and sealed in place.
		v = make([]byte, headerLen, headerLen+binary.MaxVarintLen64+bodyLen+24+8)
		v = binary.AppendUvarint(v, uint64(recordPayload(r)))
		n := len(v)
		body := appendBody(v, r)[n:]
		var err error
		if v, err = s.Seal(v, ref, r.Position, r.Arrival, body); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		v = slices.Grow(v, 8)
		v[0] = sealedTag
	} else if _, ok := c.(identityCodec); ok {
		// Build the body in place after the header: one allocation.
		v = appendBody(make([]byte, headerLen, headerLen+bodyLen+8), r)
	} else {
		body := appendBody(make([]byte, 0, bodyLen), r)
		sealed, err := c.Seal(body)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		v = make([]byte, headerLen+len(sealed), headerLen+len(sealed)+8)
		copy(v[headerLen:], sealed)
	}
	if s == nil {
		v[0] = valueTag
	}
	binary.BigEndian.PutUint64(v[1+crcLen:], uint64(r.Arrival))
	key := v[len(v) : len(v)+8]
	binary.BigEndian.PutUint64(key, r.Position)
	binary.BigEndian.PutUint32(v[1:], recordCRC(key, v))
	return v, nil
}

func appendBody(b []byte, r *Record) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.PartitionKey)))
	b = append(b, r.PartitionKey...)
	b = append(b, byte(len(r.ExplicitHashKey)))
	b = append(b, r.ExplicitHashKey...)
	return append(b, r.Data...)
}

// isV1 reports whether v is a format-1 value (no checksum).
func isV1(v []byte) bool { return len(v) > 0 && (v[0] == 0x00 || v[0] == 0xFF) }

// checkValue verifies the value v stored under key k in shard ref: its
// checksum, or for a format-1 value that the store may still hold one
// (legacy). The error is a *DamageError naming the record.
func checkValue(ref ShardRef, k, v []byte, legacy bool) error {
	switch {
	case isFormat2(v):
		if want, got := binary.BigEndian.Uint32(v[1:]), recordCRC(k, v); want != got {
			return damage(ref, k, fmt.Sprintf("checksum %08x, stored %08x", got, want))
		}
		return nil
	case legacy && isV1(v) && len(v) >= v1HeaderLen:
		return nil
	case isV1(v):
		return damage(ref, k, "a value without a checksum in a store that has none")
	}
	return damage(ref, k, "not a record value")
}

func damage(ref ShardRef, k []byte, reason string) *DamageError {
	var pos uint64
	if len(k) == 8 {
		pos = binary.BigEndian.Uint64(k)
	}
	return &DamageError{Shard: ref, Position: pos, Reason: reason}
}

// valueArrival reads the clear arrival.
func valueArrival(v []byte) (int64, error) {
	switch {
	case isFormat2(v):
		return int64(binary.BigEndian.Uint64(v[1+crcLen:])), nil
	case len(v) >= v1HeaderLen && isV1(v):
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	return 0, errBadValue
}

// bodyParts splits an unsealed body. The returned slices alias body.
func bodyParts(body []byte) (pk, ehk, data []byte, err error) {
	n, w := binary.Uvarint(body)
	if w <= 0 || n > uint64(len(body)-w) {
		return nil, nil, nil, errBadValue
	}
	rest := body[w:]
	pk, rest = rest[:n], rest[n:]
	if len(rest) < 1 {
		return nil, nil, nil, errBadValue
	}
	k := int(rest[0])
	rest = rest[1:]
	if (k != 0 && k != explicitKeyLen) || k > len(rest) {
		return nil, nil, nil, errBadValue
	}
	return pk, rest[:k], rest[k:], nil
}

// valueParts splits a stored value: for a sealed one, sealed is the sealed
// body and pk, ehk and data are nil; otherwise the body is opened by c.
// payload is len(PartitionKey)+len(Data) either way. With the identity
// codec the results alias v (and so the bbolt page).
func valueParts(c Codec, v []byte) (pk, ehk, data, sealed []byte, payload int64, err error) {
	var body []byte
	switch {
	case len(v) >= headerLen && v[0] == sealedTag:
		n, w := binary.Uvarint(v[headerLen:])
		if w <= 0 || n > uint64(len(v)) {
			return nil, nil, nil, nil, 0, errBadValue
		}
		return nil, nil, nil, v[headerLen+w:], int64(n), nil
	case len(v) >= headerLen && v[0] == valueTag:
		body = v[headerLen:]
	case len(v) >= v1HeaderLen && isV1(v):
		body = v[v1HeaderLen:]
	default:
		return nil, nil, nil, nil, 0, errBadValue
	}
	if _, ok := c.(identityCodec); !ok {
		if body, err = c.Open(body); err != nil {
			return nil, nil, nil, nil, 0, fmt.Errorf("open sealed record: %w", err)
		}
	}
	if pk, ehk, data, err = bodyParts(body); err != nil {
		return nil, nil, nil, nil, 0, err
	}
	return pk, ehk, data, nil, int64(len(pk) + len(data)), nil
}

// decodeValue turns a stored value into a Record whose bytes are copies,
// safe to use after the transaction.
func decodeValue(c Codec, pos uint64, v []byte) (Record, error) {
	arrival, err := valueArrival(v)
	if err != nil {
		return Record{}, err
	}
	pk, ehk, data, sealed, _, err := valueParts(c, v)
	if err != nil {
		return Record{}, err
	}
	return copyRecord(pos, arrival, pk, ehk, data, sealed), nil
}

// copyRecord builds a Record from parts that may alias a bbolt page.
func copyRecord(pos uint64, arrival int64, pk, ehk, data, sealed []byte) Record {
	if sealed != nil {
		return Record{Position: pos, Arrival: arrival, Sealed: append(make([]byte, 0, len(sealed)), sealed...)}
	}
	r := Record{
		Position:     pos,
		Arrival:      arrival,
		PartitionKey: string(pk),
		Data:         append(make([]byte, 0, len(data)), data...),
	}
	if len(ehk) > 0 {
		r.ExplicitHashKey = append([]byte(nil), ehk...)
	}
	return r
}

// Unseal opens a sealed record read from shard ref (Sealed is not nil)
// with o and fills in its partition key, explicit hash key and data; a
// record that is not sealed is left as it is.
func (r *Record) Unseal(ref ShardRef, o Opener) error {
	if r.Sealed == nil {
		return nil
	}
	body, err := o.Open(nil, ref, r.Position, r.Arrival, r.Sealed)
	if err != nil {
		return err
	}
	pk, ehk, data, err := bodyParts(body)
	if err != nil {
		return &DamageError{Shard: ref, Position: r.Position, Reason: "malformed sealed body"}
	}
	r.PartitionKey, r.Data, r.Sealed = string(pk), data, nil
	if len(ehk) > 0 {
		r.ExplicitHashKey = ehk
	}
	return nil
}

// valuePayload returns the "bytes" that Stats and Read's maxBytes count,
// len(Data)+len(PartitionKey), without copying anything out. A sealed
// value's is in clear, so it needs no key.
func valuePayload(c Codec, v []byte) (int64, error) {
	_, _, _, _, n, err := valueParts(c, v)
	return n, err
}

// recordPayload is valuePayload for a Record not yet encoded.
func recordPayload(r *Record) int64 { return int64(len(r.Data) + len(r.PartitionKey)) }
