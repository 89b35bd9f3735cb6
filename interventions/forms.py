"""Forms of the intervention queue's actions."""

import uuid

from django import forms

ACTIONS = (("resolve", "Resolve"), ("note", "Add a note"), ("retry", "Retry"))


class GroupActionForm(forms.Form):
    """An action on one therapist's open interventions of one operation, or on listed items."""

    action = forms.ChoiceField(choices=ACTIONS)
    entity_id = forms.CharField(required=False)
    operation = forms.CharField(required=False)
    ids = forms.CharField(required=False, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea)

    def clean_ids(self):
        ids = [i.strip() for i in self.cleaned_data["ids"].split(",") if i.strip()]
        try:
            return [str(uuid.UUID(i)) for i in ids]
        except ValueError:
            raise forms.ValidationError("These are not intervention ids.") from None

    def clean(self):
        data = super().clean()
        if data.get("action") in ("resolve", "note") and not data.get("note", "").strip():
            raise forms.ValidationError("Say what was done in the note: it is kept with the intervention.")
        if not data.get("ids") and not data.get("operation"):
            raise forms.ValidationError("Choose the interventions to act on.")
        return data


class BulkActionForm(forms.Form):
    """An action on every open intervention the queue's filter selects, confirmed with its count."""

    action = forms.ChoiceField(choices=ACTIONS)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea)
    # Set by the confirmation step: the signed token of what it counted (interventions.selection).
    selection = forms.CharField(required=False, widget=forms.HiddenInput)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        # The note is asked for on the confirmation step, with the count.
        if data.get("confirmed") and data.get("action") in ("resolve", "note") and not data.get("note", "").strip():
            raise forms.ValidationError("Say what was done in the note: it is kept with every intervention.")
        return data
