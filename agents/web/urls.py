from django.urls import path

from agents.web import account, views

urlpatterns = [
    path("", views.home, name="home"),
    path("account/", account.account, name="account"),
    path("account/keys/", account.key_create, name="account-key-create"),
    path("account/keys/<str:key_id>/revoke/", account.key_revoke, name="account-key-revoke"),
    path("account/password/", account.password_set, name="account-password"),
    path("account/members/", account.member_add, name="account-member-add"),
    path("providers/", account.providers, name="providers"),
    path("providers/add/", account.provider_add, name="provider-add"),
    path("providers/<str:provider_id>/remove/", account.provider_remove, name="provider-remove"),
    path("providers/<str:provider_id>/refresh/", account.provider_sync, name="provider-refresh"),
    path("agents/new/", views.agent_new, name="agent-new"),
    path("agents/import/", views.agent_import, name="agent-import"),
    path("agents/<str:agent_id>/", views.workspace, name="agent"),
    path("agents/<str:agent_id>/settings/", views.agent_settings, name="agent-settings"),
    path("agents/<str:agent_id>/export/", views.agent_export, name="agent-export"),
    path("agents/<str:agent_id>/duplicate/", views.agent_duplicate, name="agent-duplicate"),
    path("agents/<str:agent_id>/delete/", views.agent_delete, name="agent-delete"),
    path("agents/<str:agent_id>/tools/attach/", views.tool_attach, name="tool-attach"),
    path(
        "agents/<str:agent_id>/tools/<str:tool_id>/detach/", views.tool_detach, name="tool-detach"
    ),
    path("agents/<str:agent_id>/tool-rules/", views.tool_rules, name="tool-rules"),
    path("agents/<str:agent_id>/tool-editor/", views.tool_editor, name="tool-editor"),
    path("agents/<str:agent_id>/tool-editor/preview/", views.tool_preview, name="tool-preview"),
    path("agents/<str:agent_id>/tool-editor/run/", views.tool_run, name="tool-run"),
    path("agents/<str:agent_id>/tool-editor/save/", views.tool_save, name="tool-save"),
]
