package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/catalog"
	"github.com/commerce-engine/commerce/domain/money"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/projections"
)

// productRequest is the body of POST and PUT /api/v1/admin/products.
type productRequest struct {
	SKU         string       `json:"sku"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Category    string       `json:"category"`
	Price       *money.Money `json:"price"`
	Stock       *int64       `json:"stock,omitempty"`
	ImageURL    string       `json:"image_url"`
}

func (r productRequest) validate(create bool) error {
	var fields []apperr.FieldError
	if create && strings.TrimSpace(r.SKU) == "" {
		fields = append(fields, apperr.Field("sku", "is required"))
	}
	if strings.TrimSpace(r.Name) == "" {
		fields = append(fields, apperr.Field("name", "is required"))
	}
	if r.Price == nil {
		fields = append(fields, apperr.Field("price", "is required"))
	} else if !r.Price.IsPositive() {
		fields = append(fields, apperr.Field("price", "must be a positive amount with an ISO 4217 currency"))
	}
	if r.Stock != nil && (!create || *r.Stock < 0) {
		msg := "must not be negative"
		if !create {
			msg = "cannot be set here; use POST /api/v1/admin/products/{id}/stock"
		}
		fields = append(fields, apperr.Field("stock", msg))
	}
	if len(r.ImageURL) > 2048 || len(r.Name) > 200 || len(r.SKU) > 64 || len(r.Category) > 100 || len(r.Description) > 10000 {
		fields = append(fields, apperr.Field("", "a field is too long (sku 64, name 200, category 100, description 10000, image_url 2048)"))
	}
	if len(fields) > 0 {
		return apperr.Invalid("invalid product", fields...)
	}
	return nil
}

func (a *API) createProduct(c *gin.Context) {
	var req productRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if err := req.validate(true); err != nil {
		fail(c, err)
		return
	}
	ctx, now := c.Request.Context(), a.Now()
	id := uuid.NewString()
	res, err := commands.Handle(ctx, a.Runner, commands.Product, catalog.StreamID(id), catalog.CreateProduct{
		ProductID: id, SKU: req.SKU, Name: req.Name, Description: req.Description, Category: req.Category,
		Price: *req.Price, ImageURL: req.ImageURL, At: now,
	}, metadata(c, "create"))
	if err != nil {
		fail(c, err)
		return
	}
	if req.Stock != nil && *req.Stock > 0 {
		res, err = commands.Handle(ctx, a.Runner, commands.Product, catalog.StreamID(id),
			catalog.AdjustStock{ProductID: id, Delta: *req.Stock, Reason: "initial stock", At: now}, metadata(c, "stock"))
		if err != nil {
			fail(c, err)
			return
		}
	}
	c.Header("Location", "/api/v1/products/"+id)
	answer(c, http.StatusCreated, res.Position, productOfState(res.State, now))
}

func (a *API) updateProduct(c *gin.Context) {
	id, ok := pathUUID(c, "id")
	if !ok {
		return
	}
	var req productRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if err := req.validate(false); err != nil {
		fail(c, err)
		return
	}
	now := a.Now()
	agg := commands.Product
	agg.Decide = func(s catalog.State, cmd any) ([]any, error) {
		if s.Exists && req.SKU != "" && strings.TrimSpace(req.SKU) != s.SKU {
			return nil, apperr.Invalid("invalid product", apperr.Field("sku", "cannot change"))
		}
		return catalog.Decide(s, cmd)
	}
	res, err := commands.Handle(c.Request.Context(), a.Runner, agg, catalog.StreamID(id), catalog.UpdateProduct{
		ProductID: id, Name: req.Name, Description: req.Description, Category: req.Category,
		Price: *req.Price, ImageURL: req.ImageURL, At: now,
	}, metadata(c, "update"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusOK, res.Position, productOfState(res.State, now))
}

type stockRequest struct {
	Delta *int64 `json:"delta"`
}

func (a *API) adjustStock(c *gin.Context) {
	id, ok := pathUUID(c, "id")
	if !ok {
		return
	}
	var req stockRequest
	if err := httpedge.DecodeJSON(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.Delta == nil || *req.Delta == 0 {
		fail(c, apperr.Invalid("invalid stock adjustment", apperr.Field("delta", "is required and not zero")))
		return
	}
	now := a.Now()
	res, err := commands.Handle(c.Request.Context(), a.Runner, commands.Product, catalog.StreamID(id),
		catalog.AdjustStock{ProductID: id, Delta: *req.Delta, Reason: "admin adjustment", At: now}, metadata(c, "stock"))
	if err != nil {
		fail(c, err)
		return
	}
	answer(c, http.StatusOK, res.Position, productOfState(res.State, now))
}

// pathUUID reads a UUID path parameter; anything else is a 404, so ids
// cannot be probed and junk never reaches a stream name.
func pathUUID(c *gin.Context, name string) (string, bool) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		fail(c, apperr.NotFound("not found"))
		return "", false
	}
	return id.String(), true
}

// The catalog reads: public, from the catalog read model.

func (a *Reads) listProducts(c *gin.Context) {
	q := projections.Query{Category: c.Query("category"), Text: c.Query("q"), Sort: c.Query("sort"), Cursor: c.Query("cursor")}
	var fields []apperr.FieldError
	switch q.Sort {
	case "", projections.SortNewest, projections.SortName, projections.SortPriceAsc, projections.SortPriceDesc:
	default:
		fields = append(fields, apperr.Field("sort", "must be price_asc, price_desc, name or newest"))
	}
	price := func(name string) *int64 {
		raw := c.Query(name)
		if raw == "" {
			return nil
		}
		v, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || v < 0 {
			fields = append(fields, apperr.Field(name, "must be a whole number of minor units >= 0"))
			return nil
		}
		return &v
	}
	q.MinPrice, q.MaxPrice = price("min_price"), price("max_price")
	if raw := c.Query("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			fields = append(fields, apperr.Field("page_size", "must be between 1 and 100"))
		}
		q.PageSize = n
	}
	if len(q.Text) > 200 || len(q.Category) > 100 {
		fields = append(fields, apperr.Field("q", "q is at most 200 bytes, category 100"))
	}
	if strings.ContainsFunc(q.Text+q.Category, unicode.IsControl) || !utf8.ValidString(q.Text+q.Category) {
		fields = append(fields, apperr.Field("q", "q and category are text without control characters"))
	}
	if len(fields) > 0 {
		httpedge.WriteError(c, apperr.Invalid("invalid product query", fields...))
		return
	}
	items, next, err := a.Catalog.Products(c.Request.Context(), q)
	if errors.Is(err, projections.ErrBadCursor) {
		httpedge.WriteError(c, apperr.Invalid("invalid product query", apperr.Field("cursor", "is not a cursor of this listing")))
		return
	}
	if err != nil {
		httpedge.WriteError(c, modelUnavailable("products", err))
		return
	}
	var nextCursor *string
	if next != "" {
		nextCursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"items": mapSlice(items, productOfModel), "next_cursor": nextCursor})
}

func (a *Reads) getProduct(c *gin.Context) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	p, ok, err := a.Catalog.Product(c.Request.Context(), strings.ToLower(id.String()))
	if err != nil {
		httpedge.WriteError(c, modelUnavailable("products", err))
		return
	}
	if !ok {
		httpedge.WriteError(c, apperr.NotFound("not found"))
		return
	}
	c.JSON(http.StatusOK, productOfModel(p))
}

func (a *Reads) categories(c *gin.Context) {
	items, err := a.Catalog.Categories(c.Request.Context())
	if err != nil {
		httpedge.WriteError(c, modelUnavailable("categories", err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": mapSlice(items, categoryOfModel)})
}
