package storage

import (
	"encoding/binary"
	"fmt"
)

// Codec turns a record's payload into the bytes kept on disk and back. It is
// the single place where encryption at rest would go.
//
// Open's input points into a database page that is only valid during the
// call: Open must not keep it, but may return it (as the identity codec
// does), since storage copies what it keeps. Both must be safe for
// concurrent use.
type Codec interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// identityCodec stores payloads as they are. encodeValue and the size/decode
// paths recognise it to skip a copy.
type identityCodec struct{}

func (identityCodec) Seal(plain []byte) ([]byte, error)  { return plain, nil }
func (identityCodec) Open(sealed []byte) ([]byte, error) { return sealed, nil }

// Record value layout. This is the only place it is defined.
//
//	[0:8]  arrival, Unix ms, big-endian int64. Left in clear so the trimmer
//	       and SeekArrival can read it without unsealing the rest.
//	[8:]   Codec.Seal(body), where body is
//	         uvarint len(PartitionKey) | PartitionKey
//	         1 byte len(ExplicitHashKey), 0 or 16 | ExplicitHashKey
//	         Data
const (
	arrivalLen     = 8
	explicitKeyLen = 16
)

var errBadValue = fmt.Errorf("%w: malformed record value", ErrCorrupt)

// encodeValue builds the stored value of r.
func encodeValue(c Codec, r *Record) ([]byte, error) {
	if n := len(r.ExplicitHashKey); n != 0 && n != explicitKeyLen {
		return nil, fmt.Errorf("explicit hash key is %d bytes, want 0 or %d", n, explicitKeyLen)
	}
	bodyLen := binary.MaxVarintLen64 + len(r.PartitionKey) + 1 + len(r.ExplicitHashKey) + len(r.Data)
	if _, ok := c.(identityCodec); ok {
		// Build the body in place after the arrival: one allocation.
		v := make([]byte, arrivalLen, arrivalLen+bodyLen)
		binary.BigEndian.PutUint64(v, uint64(r.Arrival))
		return appendBody(v, r), nil
	}
	body := appendBody(make([]byte, 0, bodyLen), r)
	sealed, err := c.Seal(body)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	v := make([]byte, arrivalLen+len(sealed))
	binary.BigEndian.PutUint64(v, uint64(r.Arrival))
	copy(v[arrivalLen:], sealed)
	return v, nil
}

func appendBody(b []byte, r *Record) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.PartitionKey)))
	b = append(b, r.PartitionKey...)
	b = append(b, byte(len(r.ExplicitHashKey)))
	b = append(b, r.ExplicitHashKey...)
	return append(b, r.Data...)
}

// valueArrival reads the clear arrival prefix.
func valueArrival(v []byte) (int64, error) {
	if len(v) < arrivalLen {
		return 0, errBadValue
	}
	return int64(binary.BigEndian.Uint64(v)), nil
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

// openBody unseals the part of v after the arrival. With the identity codec
// the result aliases v (and so the bbolt page).
func openBody(c Codec, v []byte) ([]byte, error) {
	if len(v) < arrivalLen {
		return nil, errBadValue
	}
	if _, ok := c.(identityCodec); ok {
		return v[arrivalLen:], nil
	}
	body, err := c.Open(v[arrivalLen:])
	if err != nil {
		return nil, fmt.Errorf("open sealed record: %w", err)
	}
	return body, nil
}

// decodeValue turns a stored value into a Record whose bytes are copies,
// safe to use after the transaction.
func decodeValue(c Codec, pos uint64, v []byte) (Record, error) {
	arrival, err := valueArrival(v)
	if err != nil {
		return Record{}, err
	}
	body, err := openBody(c, v)
	if err != nil {
		return Record{}, err
	}
	pk, ehk, data, err := bodyParts(body)
	if err != nil {
		return Record{}, err
	}
	return copyRecord(pos, arrival, pk, ehk, data), nil
}

// copyRecord builds a Record from parts that may alias a bbolt page.
func copyRecord(pos uint64, arrival int64, pk, ehk, data []byte) Record {
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

// valuePayload returns the "bytes" that Stats and Read's maxBytes count,
// len(Data)+len(PartitionKey), without copying anything out.
func valuePayload(c Codec, v []byte) (int64, error) {
	body, err := openBody(c, v)
	if err != nil {
		return 0, err
	}
	pk, _, data, err := bodyParts(body)
	if err != nil {
		return 0, err
	}
	return int64(len(pk) + len(data)), nil
}

// recordPayload is valuePayload for a Record not yet encoded.
func recordPayload(r *Record) int64 { return int64(len(r.Data) + len(r.PartitionKey)) }
