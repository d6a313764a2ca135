from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from agents.selectors import agents_visible_to


@login_required
def home(request):
    agents = agents_visible_to(user=request.user).order_by("-updated_at")[:200]
    return render(request, "agents/home.html", {"agents": agents})
