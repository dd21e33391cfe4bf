package httpapi

import (
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/duckgate/duckgate/backend/internal/problem"
	"github.com/duckgate/duckgate/shared/api"
)

// Paging reads limit and offset query parameters: limit defaults to def and
// may not exceed max; anything malformed is a 422 naming the parameter.
func Paging(c *gin.Context, def, max int) (limit, offset int, err error) {
	limit, offset = def, 0
	var fields []api.FieldError
	if v := c.Query("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > max {
			fields = append(fields, problem.Field("limit", "must be a whole number from 1 to "+strconv.Itoa(max)))
		}
		limit = n
	}
	if v := c.Query("offset"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 0 {
			fields = append(fields, problem.Field("offset", "must be a whole number of at least 0"))
		}
		offset = n
	}
	if len(fields) > 0 {
		return 0, 0, problem.Validation(fields...)
	}
	return limit, offset, nil
}
