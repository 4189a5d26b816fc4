"""The HTTP side of chatbi: the API, the web widget and the chat bots (`chatbi serve`)."""
