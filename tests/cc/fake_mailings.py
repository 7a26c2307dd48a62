"""FakeCC plus what the mailings use: custom fields, JSON imports, list creation, unsubscribed contacts."""
import re
from urllib.parse import urlsplit

from .fake_cc import API, FakeCC


class MailingsCC(FakeCC):
    """A requests-mock Constant Contact for the mailings' unit tests.

    Imports go through `activity_states` like removals and take effect on "completed": contacts
    are matched by email without regard to case (or made, with implicit permission), their custom
    fields set ("" clears one), and they join the lists, unless they are unsubscribed.
    """

    def __init__(self, mocker, activity_states=("processing", "completed")):
        self.fields = {}          # custom_field_id -> {"label", "name"}
        self.imports = []         # the body of every import CC accepted
        self.made_lists = []      # names of lists created through the API
        super().__init__(mocker, activity_states)

    # --- data ----------------------------------------------------------------------------

    def add_contact(self, email, lists=(), status="active", name=("", "")):
        contact_id = super().add_contact(email, lists)
        self.contacts[contact_id].update(status=status, first_name=name[0], last_name=name[1], values={})
        return contact_id

    def add_field(self, label):
        field_id = f"f-{len(self.fields) + 1}"
        self.fields[field_id] = {"label": label, "name": "_".join(label.split())}
        return field_id

    def value(self, email, label):
        """A contact's value in the field with this label (None: no such contact, field or value)."""
        contact = self.by_email(email)
        field = next((fid for fid, f in self.fields.items() if f["label"] == label), None)
        return contact and field and contact["values"].get(field)

    def by_email(self, email):
        return next((c for c in self.contacts.values() if c["email"].lower() == email.lower()), None)

    def request_count(self, method, path_end):
        return sum(1 for r in self.mocker.request_history
                   if r.method == method and urlsplit(r.url).path.endswith(path_end))

    def api_requests(self):
        return sum(1 for r in self.mocker.request_history if r.url.startswith(API))

    # --- requests-mock wiring (registered after FakeCC's, so these match first) ----------------

    def _register(self):
        super()._register()
        m = self.mocker
        m.get(API + "/contact_custom_fields", json=self._guard("fields", self._list_fields))
        m.post(API + "/contact_custom_fields", json=self._guard("create_field", self._create_field))
        m.delete(re.compile(re.escape(API) + r"/contact_custom_fields/[^/]+$"),
                 text=self._guard("delete_field", self._delete_field))
        m.post(API + "/activities/contacts_json_import", json=self._guard("import", self._import))
        m.post(API + "/contact_lists", json=self._guard("create_list", self._create_list))

    def _list_fields(self, request, context):
        return {"custom_fields": [{"custom_field_id": fid, **f} for fid, f in self.fields.items()]}

    def _create_field(self, request, context):
        label = request.json()["label"]
        name = "_".join(label.split())
        if any(f["name"].lower() == name.lower() for f in self.fields.values()):
            context.status_code = 409
            return [{"error_key": "custom_fields.api.conflict", "error_message": f"{name} exists"}]
        if len(self.fields) >= 100:
            context.status_code = 400
            return [{"error_key": "custom_fields.api.limit_exceeded", "error_message": "100 at most"}]
        field_id = self.add_field(label)
        context.status_code = 201
        return {"custom_field_id": field_id, **self.fields[field_id]}

    def _delete_field(self, request, context):
        field_id = request.path.rsplit("/", 1)[1]
        if self.fields.pop(field_id, None) is None:
            context.status_code = 404
            return '[{"error_key": "custom_fields.api.not_found", "error_message": "gone"}]'
        for contact in self.contacts.values():
            contact["values"].pop(field_id, None)
        context.status_code = 204
        return ""

    def _import(self, request, context):
        body = request.json()
        names = {f["name"] for f in self.fields.values()}
        for item in body["import_data"]:
            unknown = [key for key in item if key.startswith("cf:") and key[3:] not in names]
            if unknown:
                context.status_code = 400
                return [{"error_key": "activity.invalid", "error_message": f"no custom field {unknown[0]}"}]
        self.imports.append(body)
        activity_id = f"imp-{len(self.activities) + 1}"
        self.activities[activity_id] = {"import": body, "states": list(self.activity_states), "polls": 0}
        context.status_code = 201
        return {"activity_id": activity_id, "state": "initialized"}

    def _create_list(self, request, context):
        name = request.json()["name"]
        if any(existing.lower() == name.lower() for existing in self.lists.values()):
            context.status_code = 409
            return [{"error_key": "lists.api.conflict", "error_message": f"{name} exists"}]
        list_id = f"list-{len(self.lists) + 1}"
        self.lists[list_id] = name
        self.made_lists.append(name)
        context.status_code = 201
        return {"list_id": list_id, "name": name}

    def _activity(self, request, context):
        activity_id = request.path.rsplit("/", 1)[1]
        activity = self.activities.get(activity_id)
        if activity is None:
            context.status_code = 404
            return [{"error_key": "not.found", "error_message": "no such activity"}]
        if "import" not in activity:
            return super()._activity(request, context)
        state = activity["states"][min(activity["polls"], len(activity["states"]) - 1)]
        activity["polls"] += 1
        cannot_add = 0
        if state == "completed" and not activity.get("applied"):
            activity["applied"] = True
            cannot_add = self._apply(activity["import"])
            activity["cannot_add"] = cannot_add
        errors = [{"message": "import failed"}] if state == "failed" else []
        return {"activity_id": activity_id, "state": state, "activity_errors": errors,
                "status": {"cannot_add_to_list_count": activity.get("cannot_add", 0)}}

    def _apply(self, body):
        by_name = {f["name"]: fid for fid, f in self.fields.items()}
        cannot_add = 0
        for item in body["import_data"]:
            contact = self.by_email(item["email"])
            if contact is None:
                contact = self.contacts[self.add_contact(item["email"].lower())]
            for key in ("first_name", "last_name"):
                if key in item:
                    contact[key] = item[key]
            for key, value in item.items():
                if key.startswith("cf:"):
                    if value:
                        contact["values"][by_name[key[3:]]] = value
                    else:
                        contact["values"].pop(by_name[key[3:]], None)
            if contact["status"] == "unsubscribed":
                cannot_add += 1
            else:
                contact["lists"].update(body["list_ids"])
        return cannot_add

    def _contact(self, contact_id, memberships=True):
        body = super()._contact(contact_id, memberships)
        contact = self.contacts[contact_id]
        permission = "unsubscribed" if contact.get("status") == "unsubscribed" else "implicit"
        body["email_address"]["permission_to_send"] = permission
        body.update(first_name=contact.get("first_name", ""), last_name=contact.get("last_name", ""))
        return body
