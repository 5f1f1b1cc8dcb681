package main

import (
	"context"
	"errors"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/projections"
	"github.com/commerce-engine/commerce/readapi"
)

// readSide runs the projections this process serves reads from.
type readSide struct {
	runner *projections.Runner
	api    *readapi.API
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startReadSide starts the in-memory catalog model, rebuilt from the log at
// start and then following it live. It runs until stop, not until the
// serve context ends, so that reads in flight during a graceful stop are
// still answered.
func (m *Main) startReadSide(store eventstore.Store) *readSide {
	ctx, cancel := context.WithCancel(context.Background())
	rs := &readSide{runner: &projections.Runner{Store: store}, cancel: cancel}
	catalog := projections.NewMemoryCatalog(commands.NewCodec())
	rs.api = &readapi.API{Catalog: catalog}
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		err := rs.runner.Run(ctx, projections.Projection{Name: "catalog", Filter: projections.CatalogFilter, Target: catalog})
		if err != nil && !errors.Is(err, context.Canceled) {
			m.log.Error("catalog projection stopped", "error", err)
		}
	}()
	return rs
}

func (rs *readSide) mount(r gin.IRouter) { rs.api.Mount(r) }

// stop ends the projections and waits for them.
func (rs *readSide) stop() {
	rs.cancel()
	rs.wg.Wait()
}
