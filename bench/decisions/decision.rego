# The processing decision of crates/consent/src/decision.rs, written in Rego as the anchor of
# the issue 7 benchmark. Same rules, same rule ids, articles and details, over the same data:
#
#   data.policy.purposes[id]    basis, basis_article, special_condition, choice,
#                               direct_marketing, approval.action, categories (absent = unset)
#   data.policy.categories[id]  parent (absent = none)
#   input                       purpose, category, consent {state, notice_version}, restricted,
#                               objected, suppressed, gpc, now_s, expires_s, expires (display),
#                               action, approved
#
# Purposes and categories are keyed by id, as a Rego author would lay them out for lookups.
# Times come as epoch seconds, already parsed, as they do to `decide`.
package custos.decision

import rego.v1

purpose := data.policy.purposes[input.purpose]

category := data.policy.categories[input.category]

consent_based if purpose.basis == "consent"

consent_based if purpose.special_condition == "explicit_consent"

consent_based if purpose.choice == "opt_in"

# The category, or a parent of it, must be one the purpose uses.
covered if input.category in purpose.categories

covered if {
	some c in purpose.categories
	startswith(input.category, concat("", [c, "."]))
}

covered if category.parent in purpose.categories

reasons contains r if {
	not purpose
	r := {
		"rule": "purpose.undefined", "effect": "deny", "article": "Art. 5(1)(b) GDPR",
		"detail": sprintf("purpose `%s` is not in the policy", [input.purpose]),
	}
}

reasons contains r if {
	purpose
	not category
	r := {
		"rule": "category.undefined", "effect": "deny", "article": "Art. 5(1)(b) GDPR",
		"detail": sprintf("category `%s` is not in the policy", [input.category]),
	}
}

reasons contains r if {
	category
	purpose
	not covered
	r := {
		"rule": "category.not_for_purpose", "effect": "deny", "article": "Art. 5(1)(b) GDPR",
		"detail": sprintf("purpose `%s` does not use category `%s`", [input.purpose, input.category]),
	}
}

reasons contains r if {
	purpose
	not purpose.basis_article
	r := {
		"rule": "basis.missing", "effect": "deny", "article": "Art. 6(1) GDPR",
		"detail": sprintf("purpose `%s` has no legal basis in the policy", [input.purpose]),
	}
}

reasons contains r if {
	a := purpose.basis_article
	not consent_based
	r := {
		"rule": "basis", "effect": "allow", "article": "Art. 6(1) GDPR",
		"detail": sprintf("legal basis Art. %s", [a]),
	}
}

reasons contains r if {
	consent_based
	input.consent.state == "granted"
	r := {
		"rule": "consent.given", "effect": "allow", "article": "Art. 6(1)(a), 7 GDPR",
		"detail": sprintf("consent given under notice %s", [input.consent.notice_version]),
	}
}

reasons contains r if {
	consent_based
	input.consent.state == "withdrawn"
	r := {
		"rule": "consent.withdrawn", "effect": "deny", "article": "Art. 7(3) GDPR",
		"detail": "consent was withdrawn",
	}
}

reasons contains r if {
	consent_based
	input.consent.state == "never"
	r := {
		"rule": "consent.absent", "effect": "deny", "article": "Art. 6(1)(a) GDPR",
		"detail": "no consent has been given for this purpose",
	}
}

reasons contains r if {
	purpose
	input.restricted
	r := {
		"rule": "restriction", "effect": "deny", "article": "Art. 18(2) GDPR",
		"detail": "processing of this subject's data is restricted",
	}
}

reasons contains r if {
	input.objected
	purpose.direct_marketing
	r := {
		"rule": "objection.direct_marketing", "effect": "deny", "article": "Art. 21(3) GDPR",
		"detail": "the subject objected to direct marketing",
	}
}

reasons contains r if {
	input.objected
	not purpose.direct_marketing
	purpose.basis in {"legitimate_interest", "public_task"}
	r := {
		"rule": "objection", "effect": "deny", "article": "Art. 21(1) GDPR",
		"detail": "the subject objected to this processing",
	}
}

reasons contains r if {
	purpose.direct_marketing
	input.suppressed
	r := {
		"rule": "suppression", "effect": "deny", "article": "Art. 21(3) GDPR",
		"detail": "the address is on the marketing suppression list",
	}
}

reasons contains r if {
	purpose.direct_marketing
	input.gpc
	r := {
		"rule": "gpc", "effect": "deny", "article": "Art. 21(5) GDPR",
		"detail": "the subject sent a Global Privacy Control signal",
	}
}

reasons contains r if {
	purpose
	input.expires_s <= input.now_s
	r := {
		"rule": "retention.expired", "effect": "deny", "article": "Art. 5(1)(e) GDPR",
		"detail": sprintf("the record expired at %s", [input.expires]),
	}
}

# The gate holds wherever the action is asked about: an action that one purpose gates needs its
# approval under any purpose the app names (as `decide` since issue 16).
gated if {
	some q in data.policy.purposes
	q.approval.action == input.action
}

reasons contains r if {
	purpose
	gated
	not input.approved
	r := {
		"rule": "approval.required", "effect": "deny", "article": "PRODUCT.md C7",
		"detail": sprintf("`%s` needs a person's approval first", [input.action]),
	}
}

denied if {
	some r in reasons
	r.effect == "deny"
}

default allowed := false

allowed if not denied

result := {"allowed": allowed, "reasons": reasons}
