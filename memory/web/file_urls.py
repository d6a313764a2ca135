from django.urls import path

from memory.web import files as views

A = "agents/<str:agent_id>/files/"

urlpatterns = [
    path(A + "folders/new/", views.folder_new, name="files-folder-new"),
    path(A + "folders/attach/", views.folder_attach, name="files-folder-attach"),
    path(A + "folders/<str:folder_id>/detach/", views.folder_detach, name="files-folder-detach"),
    path(A + "folders/<str:folder_id>/upload/", views.upload, name="files-upload"),
    path(A + "<str:file_id>/", views.file_row, name="files-file"),
    path(A + "<str:file_id>/open/", views.file_open, name="files-file-open"),
    path(A + "<str:file_id>/close/", views.file_close, name="files-file-close"),
    path(A + "<str:file_id>/delete/", views.file_delete, name="files-file-delete"),
]
