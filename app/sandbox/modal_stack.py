"""The modals each person has open, stacked as Slack stacks them: opened, pushed, closed, answered on submission."""

from __future__ import annotations

from typing import Any, Callable

from app.sandbox.state import OpenModal, SlackState

MAX_STACK = 3  # views.push: "After a modal is opened, the app is limited to pushing 2 additional views."

BuildView = Callable[[Any, str], dict[str, Any]]  # (the view given, its id) -> the view Slack stores


def top(state: SlackState, user_id: str) -> OpenModal | None:
    """The view the person sees: the top of their stack (callers hold state.lock)."""
    stack = state.modal_stacks.get(user_id) or []
    return stack[-1] if stack else None


def open_root(state: SlackState, user_id: str, view_id: str) -> None:
    """views.open: a new modal for the person, in place of any they had open."""
    for old in state.modal_stacks.get(user_id) or []:
        state.closed_views.add(old.view_id)
    state.modal_stacks[user_id] = [OpenModal(view_id)]


def push(state: SlackState, user_id: str, view_id: str) -> None:
    """views.push or response_action push: the new view goes on top; the callers checked depth() first."""
    state.modal_stacks[user_id].append(OpenModal(view_id))


def depth(state: SlackState, user_id: str) -> int:
    return len(state.modal_stacks.get(user_id) or [])


def close(state: SlackState, user_id: str, view_id: str, *, everything: bool) -> bool:
    """The person closes the top view (Cancel or Back: the view under it shows again), or the whole stack (×).

    False when `view_id` is not the view they see.
    """
    stack = state.modal_stacks.get(user_id) or []
    if not stack or stack[-1].view_id != view_id:
        return False
    gone = stack if everything else stack[-1:]
    state.closed_views.update(v.view_id for v in gone)
    del stack[len(stack) - len(gone) :]
    if not stack:
        del state.modal_stacks[user_id]
    return True


def answer_submission(state: SlackState, user_id: str, view_id: str, ack: Any, build: BuildView) -> None:
    """What Slack does with a view_submission's ack: no response_action closes the submitted view, `errors` shows
    them under the inputs, `update` replaces the view (same id), `push` stacks a new one, `clear` closes them all.

    An ack Slack cannot use (an unknown action, a view it refuses) leaves the modal as it was.
    """
    current = top(state, user_id)
    if current is None or current.view_id != view_id:
        return
    action = ack.get("response_action") if isinstance(ack, dict) else None
    if action is None:
        close(state, user_id, view_id, everything=False)
    elif action == "clear":
        close(state, user_id, view_id, everything=True)
    elif action == "errors" and isinstance(ack.get("errors"), dict):
        current.errors = {str(k): str(v) for k, v in ack["errors"].items()}
    elif action == "update":
        view = build(ack.get("view"), view_id)
        old = state.views[view_id]
        view.update(root_view_id=old["root_view_id"], previous_view_id=old["previous_view_id"])
        state.views[view_id] = view
        current.errors = {}
    elif action == "push" and depth(state, user_id) < MAX_STACK:
        stack = state.modal_stacks[user_id]
        view = build(ack.get("view"), state.new_id("V", 10))
        view.update(root_view_id=stack[0].view_id, previous_view_id=view_id)
        state.views[view["id"]] = view
        push(state, user_id, view["id"])
