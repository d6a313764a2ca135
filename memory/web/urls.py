from django.urls import path

from memory.web import views

A = "agents/<str:agent_id>/"

urlpatterns = [
    path(A + "panels/<str:tab>/", views.panel, name="panel"),
    path(A + "messages/", views.message_send, name="message-send"),
    path(A + "messages/older/", views.chat_older, name="chat-older"),
    path(A + "approvals/", views.approval_send, name="approval-send"),
    path(A + "runs/<str:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path(A + "runs/<str:run_id>/steps/", views.run_steps, name="run-steps"),
    path(A + "steps/<str:step_id>/raw/", views.step_raw, name="step-raw"),
    path(A + "context/", views.context_panel, name="context"),
    path(A + "context/<str:section>/", views.context_section, name="context-section"),
    path(A + "blocks/new/", views.block_new, name="block-new"),
    path(A + "blocks/share/", views.block_share, name="block-share"),
    path(A + "blocks/<str:block_id>/", views.block_card, name="block"),
    path(A + "blocks/<str:block_id>/edit/", views.block_edit, name="block-edit"),
    path(A + "blocks/<str:block_id>/history/", views.block_history, name="block-history"),
    path(A + "blocks/<str:block_id>/undo/", views.block_undo, name="block-undo"),
    path(A + "blocks/<str:block_id>/remove/", views.block_remove, name="block-remove"),
    path(A + "archival/new/", views.passage_new, name="passage-new"),
    path(A + "archival/<str:passage_id>/delete/", views.passage_delete, name="passage-delete"),
]
