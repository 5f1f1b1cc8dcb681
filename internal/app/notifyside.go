package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/apperr"
	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/httpedge"
	"github.com/commerce-engine/commerce/notify"
)

// notifierConsumer is the notifier's durable identity on the bus.
const notifierConsumer = "notifier"

// newNotifier sends over SMTP when SMTPURL is set and to the log
// otherwise, recording every delivery in log.
func (m *Main) newNotifier(ws *writeSide, log notify.Log) (*notify.Notifier, error) {
	var sender notify.Sender = notify.LogSender{Logger: m.log}
	if m.cfg.SMTPURL != "" {
		s, err := notify.NewSMTPSender(m.cfg.SMTPURL, m.cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.setting("SMTPURL"), err)
		}
		sender = s
	}
	n, err := notify.New(notify.Config{
		Sender: sender, Log: log, Directory: commands.Recipients{Runner: ws.api.Runner, Unknown: notify.ErrUnknownRecipient}, Codec: ws.api.Runner.Codec,
		OpenToken: ws.sealer.Open, BaseURL: m.cfg.PublicURL, Logger: m.log,
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	return n, nil
}

type notificationView struct {
	ID       string     `json:"id"`
	Channel  string     `json:"channel"`
	To       string     `json:"to"`
	Template string     `json:"template"`
	Subject  string     `json:"subject"`
	Body     string     `json:"body"`
	Status   string     `json:"status"`
	Attempts int        `json:"attempts"`
	SentAt   *time.Time `json:"sent_at"`
}

var notificationNamespace = uuid.MustParse("3b0e5c7a-9f5d-4a41-8d2e-6f4c1b2a9e77")

// listNotifications answers GET /api/v1/admin/notifications.
func (cs *checkoutSide) listNotifications(c *gin.Context) {
	limit, ok := queryLimit(c)
	if !ok {
		return
	}
	to := c.Query("to")
	if len(to) > 320 {
		httpedge.WriteError(c, apperr.Invalid("invalid to", apperr.Field("to", "at most 320 bytes")))
		return
	}
	list, err := cs.notifications.List(c.Request.Context(), to, limit)
	if err != nil {
		httpedge.WriteError(c, apperr.Unavailable("notification log unavailable", err))
		return
	}
	items := make([]notificationView, len(list))
	for i, n := range list {
		var sent *time.Time
		if n.SentAt != nil {
			t := n.SentAt.UTC()
			sent = &t
		}
		items[i] = notificationView{ID: uuid.NewSHA1(notificationNamespace, []byte(n.ID)).String(), Channel: n.Channel, To: n.To,
			Template: n.Template, Subject: n.Subject, Body: n.Body, Status: n.Status, Attempts: n.Attempts, SentAt: sent}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}
