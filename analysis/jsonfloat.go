package analysis

import "github.com/growthtrain/growthtrain/internal/jsonx"

// JSONFloat is a float64 that encodes NaN and ±Inf as JSON null (encoding/json rejects them),
// so that a diagnostic with an undefined value still writes its JSON. null decodes as NaN.
type JSONFloat = jsonx.Float
