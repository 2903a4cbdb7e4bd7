package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
	"regexp"
	"strconv"
	"sync"
)

// Sequence numbers are 2^184 + shardIndex·2^64 + position: 56 decimal digits
// like the service's, strictly increasing within a shard, unique in the
// stream (the shard index is part of them), larger in a child than in its
// parents (children take higher indexes), and 185 bits long, so the KCL's
// validator, which decodes only 186-bit numbers, never rejects them.
var seqMarker = new(big.Int).Lsh(big.NewInt(1), 184)

const seqBits = 185

var seqPattern = regexp.MustCompile(`^(0|[1-9]\d{0,128})$`)

func formatSeq(shardIndex uint32, pos uint64) string {
	return seqBaseFor(shardIndex).format(pos)
}

// seqBase makes a shard's sequence numbers without big-integer arithmetic
// per record: base = 2^184 + index·2^64 = high·10^19 + low, so base + pos
// is high (plus a carry of at most 2) followed by 19 digits of low + pos.
type seqBase struct {
	high [3]string // decimal of high, high+1, high+2
	low  uint64    // < 10^19
}

const tenTo19 = 10_000_000_000_000_000_000

var seqBases sync.Map // uint32 → *seqBase

func seqBaseFor(idx uint32) *seqBase {
	if b, ok := seqBases.Load(idx); ok {
		return b.(*seqBase)
	}
	n := new(big.Int).Lsh(new(big.Int).SetUint64(uint64(idx)), 64)
	n.Or(n, seqMarker)
	hi, lo := new(big.Int).QuoRem(n, new(big.Int).SetUint64(tenTo19), new(big.Int))
	b := &seqBase{low: lo.Uint64()}
	for c := int64(0); c < 3; c++ {
		b.high[c] = new(big.Int).Add(hi, big.NewInt(c)).String()
	}
	seqBases.Store(idx, b)
	return b
}

func (b *seqBase) format(pos uint64) string {
	sum, carry := bits.Add64(b.low, pos, 0)
	// sum + carry·2^64 < 3·10^19; split it into a carry digit and 19 digits.
	c := 0
	if carry == 1 {
		// 2^64 = 1·10^19 + 8446744073709551616
		c = 1
		s2, c2 := bits.Add64(sum, 8446744073709551616, 0)
		sum = s2
		if c2 == 1 {
			c++
			sum += 8446744073709551616 // remains below 10^19 here
		}
	}
	for sum >= tenTo19 {
		sum -= tenTo19
		c++
	}
	digits := strconv.FormatUint(sum, 10)
	var buf [64]byte
	out := append(buf[:0], b.high[c]...)
	for i := len(digits); i < 19; i++ {
		out = append(out, '0')
	}
	out = append(out, digits...)
	return string(out)
}

var errBadSeq = errors.New("not a sequence number of this engine")

// SequenceGap returns how many record positions of one shard lie after
// from up to and including to: the records a reader whose last record is
// from has yet to read when to is the shard's newest. ok is false when
// either is not a sequence number of this engine or they belong to
// different shards. Positions of failed writes count too, so it is an
// upper bound by the few records a store failure lost.
func SequenceGap(from, to string) (n int64, ok bool) {
	fi, fp, err := parseSeq(from)
	if err != nil {
		return 0, false
	}
	ti, tp, err := parseSeq(to)
	if err != nil || fi != ti {
		return 0, false
	}
	if tp <= fp {
		return 0, true
	}
	return int64(tp - fp), true
}

// parseSeq reads a sequence number back into its shard index and position.
func parseSeq(s string) (shardIndex uint32, pos uint64, err error) {
	if !seqPattern.MatchString(s) {
		return 0, 0, errBadSeq
	}
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.BitLen() != seqBits {
		return 0, 0, errBadSeq
	}
	var b [24]byte // 185 bits fit in 24 bytes
	n.FillBytes(b[:])
	// b[0] holds bit 184 (the marker); bits 96..183 must be zero.
	for _, x := range b[1:12] {
		if x != 0 {
			return 0, 0, errBadSeq
		}
	}
	idx := binary.BigEndian.Uint32(b[12:16])
	return idx, binary.BigEndian.Uint64(b[16:24]), nil
}

// tokenSigner makes and checks opaque, tamper-proof tokens (shard iterators
// and paging tokens): payload followed by a truncated HMAC-SHA256.
type tokenSigner struct{ key []byte }

const macLen = 16

func (t tokenSigner) sign(payload []byte) string {
	m := hmac.New(sha256.New, t.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(m.Sum(payload)[:len(payload)+macLen])
}

func (t tokenSigner) open(token string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < macLen+1 {
		return nil, false
	}
	payload, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	m := hmac.New(sha256.New, t.key)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil)[:macLen], mac) {
		return nil, false
	}
	return payload, true
}

// iterator is what a shard iterator names.
type iterator struct {
	stream   string
	created  int64 // stream creation ms: an iterator of a deleted and re-created stream is refused
	shard    uint32
	pos      uint64 // next position to read
	issuedMs int64
}

const iteratorVersion = 1

func (t tokenSigner) encodeIterator(it iterator) string {
	b := make([]byte, 0, 32+len(it.stream))
	b = append(b, iteratorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(it.created))
	b = binary.BigEndian.AppendUint32(b, it.shard)
	b = binary.BigEndian.AppendUint64(b, it.pos)
	b = binary.BigEndian.AppendUint64(b, uint64(it.issuedMs))
	b = append(b, it.stream...)
	return t.sign(b)
}

func (t tokenSigner) decodeIterator(token string) (iterator, bool) {
	b, ok := t.open(token)
	if !ok || len(b) < 29 || b[0] != iteratorVersion {
		return iterator{}, false
	}
	return iterator{
		created:  int64(binary.BigEndian.Uint64(b[1:9])),
		shard:    binary.BigEndian.Uint32(b[9:13]),
		pos:      binary.BigEndian.Uint64(b[13:21]),
		issuedMs: int64(binary.BigEndian.Uint64(b[21:29])),
		stream:   string(b[29:]),
	}, true
}

// pageToken is what a ListShards or ListStreams NextToken names.
type pageToken struct {
	kind     byte // 's' shards, 'l' streams
	stream   string
	created  int64
	after    string // last shard id or stream name returned
	issuedMs int64
}

func (t tokenSigner) encodePage(p pageToken) string {
	b := []byte{p.kind}
	b = binary.BigEndian.AppendUint64(b, uint64(p.created))
	b = binary.BigEndian.AppendUint64(b, uint64(p.issuedMs))
	b = append(b, byte(len(p.stream)))
	b = append(b, p.stream...)
	b = append(b, p.after...)
	return t.sign(b)
}

func (t tokenSigner) decodePage(token string, kind byte) (pageToken, bool) {
	b, ok := t.open(token)
	if !ok || len(b) < 18 || b[0] != kind {
		return pageToken{}, false
	}
	p := pageToken{kind: kind, created: int64(binary.BigEndian.Uint64(b[1:9])), issuedMs: int64(binary.BigEndian.Uint64(b[9:17]))}
	n := int(b[17])
	if len(b) < 18+n {
		return pageToken{}, false
	}
	p.stream = string(b[18 : 18+n])
	p.after = string(b[18+n:])
	return p, true
}
