package web

import (
	"github.com/labstack/echo/v4"

	"audiencebridge/handlers"
	"audiencebridge/models"
	"audiencebridge/web/session"
)

// registerRoutes lists every route of the console in one place, each with
// the guard that protects it.
func registerRoutes(e *echo.Echo, h *handlers.Handlers, s *session.Manager) {
	e.GET("/static/*", serveStatic)

	// Everything below has a session (for the CSRF token) and checks it.
	app := e.Group("", loadSession(s), csrf(s))
	app.GET("/login", h.ShowLogin)
	app.POST("/login", h.Login)
	app.POST("/logout", h.Logout)

	in := app.Group("", signedIn)
	in.GET("/", h.ShowHome)
	in.GET("/account", h.ShowAccount)
	in.POST("/account/password", h.ChangePassword)
	in.POST("/account/tokens", h.CreateToken)
	in.POST("/account/tokens/:id/revoke", h.RevokeToken)
	in.GET("/recipients", h.ListRecipients)
	in.GET("/recipients/new", h.NewRecipient)
	in.GET("/recipients/import", h.ShowUpload)
	in.POST("/recipients/import", h.Upload)
	in.GET("/recipients/import/uploads/:id", h.ShowMapping)
	in.POST("/recipients/import/uploads/:id", h.StartImport)
	in.GET("/recipients/imports", h.ListImports)
	in.GET("/recipients/imports/:id", h.ShowImport)
	in.GET("/recipients/imports/:id/rejected.csv", h.DownloadRejected)
	in.POST("/recipients", h.CreateRecipient)
	in.GET("/recipients/:id", h.ShowRecipient)
	in.GET("/recipients/:id/edit", h.EditRecipient)
	in.POST("/recipients/:id", h.UpdateRecipient)
	in.POST("/recipients/:id/lists", h.AddRecipientToList)
	in.GET("/lists", h.ListLists)
	in.GET("/lists/new", h.NewList)
	in.POST("/lists", h.CreateList)
	in.GET("/lists/:id", h.ShowList)
	// Shared-audience lists: the window and the syncs.
	{
		importers := requireEntitlements("import a shared audience", handlers.SharedAudienceImporters...)
		in.GET("/lists/new/shared-audience", h.NewSharedAudienceList, importers)
		in.POST("/lists/shared-audience", h.CreateSharedAudienceList, importers)
		in.POST("/lists/shared-audience/preview", h.PreviewSharedAudience, importers)
		in.POST("/lists/:id/sync", h.SyncList, importers)
		in.POST("/lists/:id/schedule", h.SetListSchedule, importers)
		in.POST("/lists/:id/runs/:run/retry", h.RetryListRun, importers)
		in.GET("/lists/:id/sync-status", h.ListSyncStatus)
		in.GET("/lists/:id/runs", h.ListRunHistory)
		in.GET("/lists/:id/runs/:run", h.ShowListRun)
		in.GET("/lists/:id/runs/:run/unrecognized.csv", h.DownloadUnrecognized, requireEntitlements("see the audience's identifiers", models.AudienceLibrary))
	}
	// END Shared-audience lists.
	in.POST("/lists/:id/members", h.AddListMembers)
	in.POST("/lists/:id/members/remove", h.RemoveListMembers)
	in.POST("/lists/:id/delete", h.DeleteList)
	// Targeting workflows. Configuring or running "Update shared audience"
	// needs the Audience library.
	{
		exporters := requireEntitlements("send recipients to a shared audience", handlers.WorkflowExporters...)
		in.GET("/workflows", h.ListWorkflows)
		in.GET("/workflows/new", h.NewWorkflow)
		in.POST("/workflows", h.CreateWorkflow)
		in.GET("/workflows/:id", h.ShowWorkflow)
		in.GET("/workflows/:id/canvas", h.WorkflowCanvas)
		in.GET("/workflows/:id/rename", h.RenameWorkflowForm)
		in.POST("/workflows/:id/rename", h.RenameWorkflow)
		in.POST("/workflows/:id/duplicate", h.DuplicateWorkflow)
		in.POST("/workflows/:id/delete", h.DeleteWorkflow)
		in.POST("/workflows/:id/activities", h.AddWorkflowActivity) // export checks the entitlement itself
		in.POST("/workflows/:id/activities/:activity/remove", h.RemoveWorkflowActivity)
		in.GET("/workflows/:id/activities/query", h.ShowQueryDialog)
		in.POST("/workflows/:id/activities/query", h.SaveQuery)
		in.POST("/workflows/:id/activities/query/row", h.QueryRow)
		in.POST("/workflows/:id/activities/query/count", h.QueryCount)
		in.GET("/workflows/:id/activities/export", h.ShowExportDialog, exporters)
		in.POST("/workflows/:id/activities/export", h.SaveExport, exporters)
		in.POST("/workflows/:id/activities/export/preview", h.PreviewExport, exporters)
		in.POST("/workflows/:id/run", h.RunWorkflowNow, exporters)
		in.GET("/workflows/:id/run-status", h.WorkflowRunStatus)
		in.GET("/workflows/:id/runs", h.WorkflowRunHistory)
		in.POST("/workflows/:id/runs/:run/retry", h.RetryWorkflowRun, exporters)
		in.POST("/workflows/:id/schedule", h.SetWorkflowSchedule, exporters)
		in.GET("/workflows/:id/runs/:run/transitions/:which", h.DownloadTransition)
		in.GET("/workflows/:id/runs/:run/transitions/:which/list", h.SaveTransitionForm)
		in.POST("/workflows/:id/runs/:run/transitions/:which/list", h.SaveTransition)
	}
	// END Targeting workflows.
	// Audience library pages and the picker.
	{
		lib := in.Group("/library", requireEntitlements("browse the audience library", handlers.LibraryReaders...))
		libAdmin := requireEntitlements("change the audience library", handlers.LibraryEditors...)
		lib.GET("", h.ListSegments)
		lib.GET("/segments/new", h.NewSegment, libAdmin)
		lib.POST("/segments/new", h.CreateSegment, libAdmin)
		lib.GET("/segments/:sid", h.ShowSegment)
		lib.POST("/segments/:sid", h.UpdateSegment, libAdmin)
		lib.POST("/segments/:sid/status", h.SetSegmentStatus, libAdmin)
		lib.POST("/segments/:sid/delete", h.DeleteSegment, libAdmin)
		lib.POST("/segments/:sid/members", h.ChangeSegmentMembers, libAdmin)
		lib.POST("/segments/:sid/members/upload", h.UploadSegmentMembers, libAdmin)
		lib.GET("/files", h.ShowBatchFiles, libAdmin)
		lib.POST("/files", h.UploadBatchFile, libAdmin)
		lib.GET("/picker", h.ShowPicker)
		lib.POST("/picker/segments", h.CreatePickerSegment)
	}
	// END Audience library pages.

	admin := in.Group("/admin", requireAdmin("manage the console"))
	admin.GET("/operators", h.ListOperators)
	admin.GET("/operators/new", h.NewOperator)
	admin.POST("/operators", h.CreateOperator)
	admin.GET("/operators/:id", h.ShowOperator)
	admin.POST("/operators/:id", h.UpdateOperator)
	admin.POST("/operators/:id/entitlements/:entitlement", h.SetEntitlement)
	admin.POST("/operators/:id/disable", h.DisableOperator)
	admin.POST("/operators/:id/enable", h.EnableOperator)
	admin.POST("/operators/:id/password", h.ResetPassword)
	admin.GET("/audit", h.ListAudit)
	admin.GET("/audit.csv", h.ExportAudit)
	// Diagnostics, notifications.
	admin.GET("/diagnostics", h.ShowDiagnostics)
	admin.POST("/diagnostics/webhook", h.SaveGlobalWebhook)
	admin.POST("/diagnostics/webhook/delete", h.DeleteGlobalWebhook)
	in.GET("/notifications", h.ListNotifications)
	in.POST("/notifications/read", h.MarkNotificationsRead)
	in.POST("/notifications/:id/read", h.OpenNotification)
	in.POST("/notifications/webhook", h.SaveWebhook)
	in.POST("/notifications/webhook/delete", h.DeleteWebhook)
	// END Diagnostics, notifications.
	// External accounts (Administration > Platform > External accounts).
	admin.GET("/external-accounts", h.ShowExternalAccounts)
	admin.POST("/external-accounts/:name", h.UpdateExternalAccount)
	admin.POST("/external-accounts/:name/test", h.TestExternalAccount)
	// END External accounts.

	// AMC data sources (Administration > Platform > AMC Data sources).
	admin.GET("/datasources", h.ListDataSources)
	admin.GET("/datasources/new", h.NewDataSource)
	admin.POST("/datasources", h.CreateDataSource)
	admin.GET("/datasources/:name", h.ShowDataSource)
	admin.POST("/datasources/:name", h.UpdateDataSource)
	admin.POST("/datasources/:name/delete", h.DeleteDataSource)
	// END AMC data sources.

	// API description.
	e.GET(handlers.OpenAPIDocumentPath, h.OpenAPIDocument)
	app.GET("/api/docs", h.ShowAPIDocs) // signs in itself: under /api/ errors answer JSON
	// END API description.

	// The Campaign API: bearer tokens instead of the session cookie.
	api := e.Group("/api/v1", bearerToken(h.Store))
	// API: AMC data sources.
	apiDataSources := api.Group("/datasources", requireAdmin("manage AMC data sources"))
	apiDataSources.GET("", h.APIListDataSources)
	apiDataSources.POST("", h.APICreateDataSource)
	apiDataSources.GET("/:internalName", h.APIShowDataSource)
	apiDataSources.PUT("/:internalName", h.APIUpdateDataSource)
	apiDataSources.DELETE("/:internalName", h.APIDeleteDataSource)
	// END API: AMC data sources.
	api.GET("/recipients", h.APIListRecipients)
	api.POST("/recipients", h.APICreateRecipient)
	api.POST("/recipients/import", h.APIImportRecipients)
	api.GET("/recipients/:id", h.APIShowRecipient)
	// API: lists and runs.
	api.GET("/lists", h.APIListLists)
	api.POST("/lists", h.APICreateSharedAudienceList, requireEntitlements("import shared audiences as lists", handlers.SharedAudienceImporters...))
	api.GET("/lists/:id", h.APIShowList)
	api.GET("/lists/:id/members", h.APIListMembers)
	api.POST("/lists/:id/sync", h.APISyncList, requireEntitlements("synchronise shared-audience lists", handlers.SharedAudienceImporters...))
	api.GET("/runs", h.APIListRuns)
	api.GET("/runs/:id", h.APIShowRun)
	api.POST("/runs/:id/retry", h.APIRetryRun) // the entitlements depend on the run's kind: checked by the handler
	// An extension of SPEC.md: the identifiers a run did not carry.
	api.GET("/runs/:id/unrecognized", h.APIUnrecognizedSample, requireEntitlements("read identifiers of the audience library", handlers.LibraryReaders...))
	// END API: lists and runs.
	// API: workflows.
	api.GET("/workflows", h.APIListWorkflows)
	api.POST("/workflows", h.APICreateWorkflow, requireEntitlements("create targeting workflows that export to shared audiences", models.AudienceLibrary))
	api.GET("/workflows/:id", h.APIShowWorkflow)
	api.POST("/workflows/:id/run", h.APIRunWorkflow, requireEntitlements("run targeting workflows that export to shared audiences", models.AudienceLibrary))
	// END API: workflows.

	// The audience library's Audience-Manager-shaped API.
	aam := e.Group("/aam/v1", bearerToken(h.Store))
	// AAM: data sources, segments, members.
	aamRead := requireEntitlements("read the audience library", handlers.AAMRead...)
	aamWrite := requireEntitlements("change the audience library", handlers.AAMWrite...)
	aam.GET("/datasources", h.AAMListDataSources, aamRead)
	aam.POST("/datasources", h.AAMCreateDataSource, aamWrite)
	aam.GET("/datasources/:dataSourceId", h.AAMShowDataSource, aamRead)
	aam.GET("/segments", h.AAMListSegments, aamRead)
	aam.POST("/segments", h.AAMCreateSegment, aamWrite)
	aam.GET("/segments/:sid", h.AAMShowSegment, aamRead) // also /segments/ic:<integration code>
	aam.PUT("/segments/:sid", h.AAMUpdateSegment, aamWrite)
	aam.DELETE("/segments/:sid", h.AAMDeleteSegment, aamWrite)
	aam.GET("/segments/:sid/members", h.AAMListMembers, aamRead) // an extension: keyset paging for remote imports
	aam.PUT("/segments/:sid/members", h.AAMReplaceMembers, aamWrite)
	aam.POST("/segments/:sid/members", h.AAMAddMembers, aamWrite)
	aam.DELETE("/segments/:sid/members", h.AAMRemoveMembers, aamWrite)
	// END AAM: data sources, segments, members.
	// AAM: batch files.
	aam.POST("/files", h.AAMPublishBatchFile, requireEntitlements("publish batch files", handlers.BatchFileEntitlements...))
	// END AAM: batch files.
	_ = aam
}
