package lift

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// AppendJSON appends p as encoding/json would marshal it, byte for byte
// (TestPredictionAppendJSON holds it to that), without reflection: the
// answer to POST /predict/ctr is written once per request, and
// json.Marshal was about a tenth of the server's work on that route. It
// fails where json.Marshal fails (a NaN or infinite value).
func (p *Prediction) AppendJSON(b []byte) ([]byte, error) {
	var ok bool
	b = append(b, `{"prediction_id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"clip_id":`...)
	if p.ClipID == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *p.ClipID)
	}
	b = append(b, `,"predicted_ctr":`...)
	if b, ok = appendJSONFloat(b, p.PredictedCTR, 64); !ok {
		return nil, errUnsupportedFloat
	}
	b = append(b, `,"predicted_band":`...)
	b = appendJSONString(b, string(p.Band))
	b = append(b, `,"confidence":`...)
	if b, ok = appendJSONFloat(b, p.Confidence, 64); !ok {
		return nil, errUnsupportedFloat
	}
	b = append(b, `,"ctr_interval":[`...)
	if b, ok = appendJSONFloat(b, p.Interval[0], 64); !ok {
		return nil, errUnsupportedFloat
	}
	b = append(b, ',')
	if b, ok = appendJSONFloat(b, p.Interval[1], 64); !ok {
		return nil, errUnsupportedFloat
	}
	b = append(b, `],"model_version":`...)
	if p.ModelVersion == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *p.ModelVersion, 10)
	}
	b = append(b, `,"source":`...)
	b = appendJSONString(b, p.Source)
	if len(p.Explanation) > 0 {
		b = append(b, `,"explanation":[`...)
		for i, c := range p.Explanation {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"feature":`...)
			b = appendJSONString(b, c.Feature)
			b = append(b, `,"value":`...)
			if b, ok = appendJSONFloat(b, float64(c.Value), 32); !ok {
				return nil, errUnsupportedFloat
			}
			b = append(b, `,"contribution":`...)
			if b, ok = appendJSONFloat(b, float64(c.Contribution), 32); !ok {
				return nil, errUnsupportedFloat
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"created_at":`...)
	if y := p.CreatedAt.Year(); y < 0 || y > 9999 {
		return nil, Errorf(Internal, "created_at year %d is outside [0,9999]", y)
	}
	b = append(b, '"')
	b = p.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...), nil
}

var errUnsupportedFloat = Errorf(Internal, "a prediction value is NaN or infinite")

// appendJSONFloat formats f, a float64 or (bits 32) a float32, as
// encoding/json does: the shortest decimal that reads back as f at that
// precision, in exponent form below 1e-6 and from 1e21, with a one-digit
// negative exponent left unpadded.
func appendJSONFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 {
		if bits == 32 && (float32(a) < 1e-6 || float32(a) >= 1e21) || bits == 64 && (a < 1e-6 || a >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONString quotes s as encoding/json does. Printable ASCII that
// needs no escape is copied; anything else (escapes, HTML-sensitive
// characters, non-ASCII) goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
