"""The floor for bench/decide.py: Harbor & Pine's 88 rules written by hand as plain if/else.

What a careful engineer would write without a policy engine: every threshold a constant, one
function per action, the same semantics as aios_policy's engine, and the same substance in the
answer: outcome, deciding rule, matched rules with their reasons, and the escalation's stages
(kind, role, the rules that asked for each, its approvers).

The semantics: every matching rule counts; deny, then escalate, then automate. Every matched
escalation applies: their stages are combined (one stage per approver and kind, naming every rule
that asked for it), ordered by constitution.json's approval_phases, then kind (approve, sign,
advise, notify), then the order the rules and their stages are written; an error adds the default
escalation's stage (the managing partner) to them. No rule → the managing partner; an agent's
automation below its confidence bar → the policy's owner. An amount in another currency is
converted at the rate in effect on the request's day (thresholds.json); no rate is an error.
Relative approvers are looked up in small tables of org.json: the claimant's manager (up
reports_to from the role they act in), the budget owner of the request's cost centre (its head
when it has none; the unit above when that is the requester); one that cannot be found is an
error and the managing partner takes the stage, as the engine does.

Kept out on purpose (the engine does them; the floor does not): out-of-office delegates and
separation of duties for roles (approvers are a fixed lookup by role; one person approving at one
stage only), SLAs and due dates, obligations, counterfactuals, needs_info, the stricter of `at` and
now for dated rules, and canonical forms of actor ids. Kept in: a field of the wrong kind (text
where a flag is compared, a flag where a number is) is an error wherever a rule's condition, read
left to right, reaches it, and an error never lets a request automate.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aios_policy.constitution.dates import parse_moment

ZONE = ZoneInfo("America/New_York")
CURRENCY = "USD"
AUTOMATE, ESCALATE, DENY = "automate", "escalate", "deny"

# org.json ----------------------------------------------------------------------------------------
PERSON = {person_id: {"id": person_id, "name": name} for person_id, name in (
    ("eleanor.marsh", "Eleanor Marsh"), ("david.okafor", "David Okafor"), ("priya.raman", "Priya Raman"),
    ("james.whitfield", "James Whitfield"), ("sofia.alvarez", "Sofia Alvarez"), ("ben.carter", "Ben Carter"),
    ("hannah.cho", "Hannah Cho"), ("grace.nakamura", "Grace Nakamura"), ("lucas.ferreira", "Lucas Ferreira"),
    ("nadia.hassan", "Nadia Hassan"), ("omar.siddiqui", "Omar Siddiqui"), ("chloe.bennett", "Chloe Bennett"))}
ROLES_OF = {"eleanor.marsh": ("managing_partner",), "david.okafor": ("finance_manager",),
            "priya.raman": ("ops_manager",), "james.whitfield": ("delivery_lead",),
            "sofia.alvarez": ("delivery_lead",), "ben.carter": ("sales_lead",), "hannah.cho": ("account_manager",),
            "grace.nakamura": ("people_ops",), "lucas.ferreira": ("marketing_lead",),
            "nadia.hassan": ("security_officer", "consultant"), "omar.siddiqui": ("consultant",),
            "chloe.bennett": ("consultant",)}
REPORTS_TO = {"managing_partner": None, "finance_manager": "managing_partner", "delivery_lead": "managing_partner",
              "ops_manager": "managing_partner", "sales_lead": "managing_partner", "security_officer": "ops_manager",
              "people_ops": "ops_manager", "account_manager": "sales_lead", "marketing_lead": "sales_lead",
              "consultant": "delivery_lead"}
APPROVERS = {role: tuple(PERSON[p] for p, roles in ROLES_OF.items() if role in roles) for role in REPORTS_TO}
# units: who approves the money of each (its budget owner, else its head), and the unit above it
BUDGET_UNITS = {"firm": ("eleanor.marsh", None), "practice-operations": ("james.whitfield", "firm"),
                "practice-data": ("sofia.alvarez", "firm"), "growth": ("ben.carter", "firm"),
                "firm-operations": ("david.okafor", "firm"), "finance": ("david.okafor", "firm")}

# constitution.json: the agents' bar, the default escalation, the order of approval phases --------
MIN_CONFIDENCE = 0.8
DEFAULT_ROLE = "managing_partner"
PHASE_RANK = {"functional": 0, "financial": 1, "legal": 2, "executive": 3, "signature": 4}
UNPHASED = len(PHASE_RANK)  # a stage without a listed phase comes after them
KIND_RANK = {"approve": 0, "sign": 1, "advise": 2, "notify": 3}
WAITED_FOR = frozenset({"approve", "sign"})

# thresholds.json ---------------------------------------------------------------------------------
# exchange rates: units of USD for one unit of the currency, newest first, each from its day
RATES = {"EUR": ((date(2026, 7, 1), 1.12), (date(2026, 1, 1), 1.08)),
         "GBP": ((date(2026, 7, 1), 1.31), (date(2026, 1, 1), 1.27))}

# thresholds.json ---------------------------------------------------------------------------------
REFUND_MIN_CONFIDENCE = 0.9
PAYMENT_MIN_CONFIDENCE = 0.9
PRIVACY_MIN_CONFIDENCE = 0.95
REFUND_AUTO_LIMIT = 250
REFUND_OPS_LIMIT = 2500
REFUND_FINANCE_LIMIT = 10000
CHARGEBACK_AUTO_CONTEST_LIMIT = 2500
EXPENSE_RECEIPT_REQUIRED_ABOVE = 50
EXPENSE_AUTO_LIMIT = 500
EXPENSE_OPS_LIMIT = 2500
EXPENSE_MAX_CLAIM_AGE_DAYS = 90
EXPENSE_NEVER_REIMBURSED = frozenset({"personal", "commuting", "traffic_fines", "seat_upgrade"})
MEAL_PER_PERSON_CAP = 75
PURCHASE_AUTO_LIMIT = 1000
PURCHASE_OPS_LIMIT = 5000
PURCHASE_FINANCE_LIMIT = 10000
SUBSCRIPTION_AUTO_START_LIMIT = 1200
SUBSCRIPTION_TOOL_ANNUAL_LIMIT = 10000  # with nothing decided before, the year's spend is this request's amount
SUBSCRIPTION_AUTO_RENEW_LIMIT = 5000
SUBSCRIPTION_MAX_AUTO_PRICE_INCREASE_PCT = 10
VENDOR_ONBOARD_AUTO_ANNUAL_SPEND = 10000
VENDOR_AUTO_PAY_LIMIT = 5000
VENDOR_NEW_COUNTERPARTY_LIMIT = 25000
CREDIT_AUTO_LIMIT = 500
AUTO_CREDIT_REASONS = frozenset({"billing_error", "duplicate_invoice", "rate_mismatch"})
CREDIT_FINANCE_LIMIT = 5000
WRITE_OFF_AUTO_LIMIT = 250
WRITE_OFF_MIN_AGE_DAYS = 120
WRITE_OFF_FINANCE_LIMIT = 5000
PAYMENT_PLAN_AUTO_LIMIT = 15000
PAYMENT_PLAN_MAX_INSTALLMENTS = 3
CONTRACT_DELEGATED_TYPES = frozenset({"sow", "change_order"})
CONTRACT_DELEGATED_LIMIT = 50000
CONTRACT_SIGNATORY_ROLES = frozenset({"managing_partner", "delivery_lead", "sales_lead"})
DISCOUNT_AUTO_MAX_PCT = 10
DISCOUNT_KEY_CLIENT_TIERS = frozenset({"key", "strategic"})
DISCOUNT_KEY_CLIENT_AUTO_MAX_PCT = 15
DISCOUNT_SALES_LEAD_MAX_PCT = 20
DISCOUNT_HARD_CAP_PCT = 35
NDA_MAX_TERM_YEARS = 3
LEAD_AUTO_RESPONSE_MAX_VALUE = 100000
LEAD_EMBARGOED_COUNTRIES = frozenset({"CU", "IR", "KP", "SY"})
PRIVACY_BLOCKED_DESTINATIONS = frozenset({"personal_email", "personal_cloud", "usb_drive"})
PRIVACY_BILLING_RETENTION_YEARS = 7
HIRING_SIGNING_BONUS_AUTO_LIMIT = 5000
CONTENT_SOCIAL_CHANNELS = frozenset({"linkedin", "x", "bluesky"})
CONTENT_REVIEW_CHANNELS = frozenset({"blog", "newsletter", "case_study"})

# effective dates (an until date runs to the end of that day, in the company's time zone)
DISCOUNT_FREEZE_FROM = datetime(2026, 12, 15, tzinfo=ZONE)
DISCOUNT_FREEZE_UNTIL = datetime(2027, 1, 1, tzinfo=ZONE)
MEAL_CAP_FROM = datetime(2026, 7, 1, tzinfo=ZONE)

class Stage(NamedTuple):
    """One stage as a rule writes it: who (a role, or a relative approver's key), of what kind, in which phase."""

    who: str
    kind: str
    rank: tuple[int, int]  # (phase, kind): where it goes among combined stages
    role: str | None  # None: found from the request (RELATIVE)


MANAGER_OF_REQUESTER = "manager_of:requester"
BUDGET_OWNER_OF_COST_CENTER = "budget_owner_of:attributes.cost_center"
RELATIVE = frozenset({MANAGER_OF_REQUESTER, BUDGET_OWNER_OF_COST_CENTER})

Plan = list[tuple[Stage, list[str]]]  # the stages, each with the rules that asked for it


def _stage(who: str, phase: str | None = None, kind: str = "approve") -> Stage:
    return Stage(who, kind, (PHASE_RANK.get(phase, UNPHASED), KIND_RANK[kind]), None if who in RELATIVE else who)


def _combine(parts: list[tuple[str | None, tuple[Stage, ...]]]) -> Plan:
    """Every part's stages together: one per (who, kind), naming every rule that asked for it, in order
    of phase, kind, then where it was first written."""
    merged: dict[tuple[str, str], tuple[tuple[int, int], int, Stage, list[str]]] = {}
    position = 0
    for rule, stages in parts:
        for stage in stages:
            key = (stage.who, stage.kind)
            found = merged.get(key)
            if found is None:
                merged[key] = (stage.rank, position, stage, [rule] if rule else [])
            elif rule and rule not in found[3]:
                found[3].append(rule)
            position += 1
    return [(stage, rules) for _, _, stage, rules in sorted(merged.values(), key=lambda e: (e[0], e[1]))]


class Rule:
    __slots__ = ("id", "outcome", "plan", "reason", "stages")

    def __init__(self, rule_id: str, outcome: str, stages: tuple[Stage, ...], reason: str) -> None:
        self.id, self.outcome, self.stages, self.reason = rule_id, outcome, stages, reason
        self.plan = _combine([(rule_id, stages)])  # its stages alone, for the common case of one escalation


DEFAULT_STAGES = (_stage(DEFAULT_ROLE),)
DEFAULT_PLAN = _combine([(None, DEFAULT_STAGES)])


# policies/billing-exceptions.json -----------------------------------------------------------------
CREDIT_NOTE_ROUTINE_CORRECTION = Rule(
    "credit-note-routine-correction", AUTOMATE, (),
    "Correcting our own billing mistake (wrong rate, duplicate invoice, arithmetic error) up to $500 needs no review.")
CREDIT_NOTE_FINANCE_REVIEW = Rule(
    "credit-note-finance-review", ESCALATE, (_stage("finance_manager", "financial"),),
    "Credit notes above $500, or for any reason other than correcting our own mistake (goodwill, a service problem, a"
    " scope disagreement), up to $5,000 need the finance manager.")
CREDIT_NOTE_PARTNER_APPROVAL = Rule(
    "credit-note-partner-approval", ESCALATE, (_stage("managing_partner", "executive"),),
    "Credit notes above $5,000 change what an engagement earns; the managing partner decides, usually after talking "
    "to the client.")
WRITE_OFF_SMALL_AGED = Rule(
    "write-off-small-aged", AUTOMATE, (),
    "Chasing a balance up to $250 that is already 120 days old costs more than it recovers; the billing agent writes "
    "it off.")
WRITE_OFF_FINANCE_REVIEW = Rule(
    "write-off-finance-review", ESCALATE, (_stage("finance_manager", "financial"),),
    "Write-offs above $250, or of balances less than 120 days old, up to $5,000 need the finance manager to confirm "
    "collection has really failed.")
WRITE_OFF_PARTNER_APPROVAL = Rule(
    "write-off-partner-approval", ESCALATE,
    (_stage("finance_manager", "financial"), _stage("managing_partner", "executive")),
    "Writing off more than $5,000 is a decision about the client relationship and possibly legal action; finance "
    "prepares it and the managing partner decides.")
PAYMENT_PLAN_STANDARD = Rule(
    "payment-plan-standard", AUTOMATE, (),
    "A client may spread an overdue balance up to $15,000 over at most three monthly instalments; the billing agent "
    "sets it up.")
PAYMENT_PLAN_FINANCE_REVIEW = Rule(
    "payment-plan-finance-review", ESCALATE, (_stage("finance_manager", "financial"),),
    "A plan for more than $15,000 or over more than three instalments ties up our cash; the finance manager decides.")
PAYMENT_PLAN_CLIENT_IN_ARREARS = Rule(
    "payment-plan-client-in-arrears", ESCALATE, (_stage("managing_partner", "executive"),),
    "A client who already has an invoice more than 90 days overdue is a credit risk: the managing partner decides "
    "whether to agree a plan and whether we keep working for them meanwhile.")

# policies/client-data.json ------------------------------------------------------------------------
DATA_EXPORT_TO_CLIENT = Rule(
    "data-export-to-client", AUTOMATE, (),
    "Sending the client its own files without personal data (deliverables, analyses, meeting notes) is routine.")
DATA_EXPORT_PERSONAL_DATA_TO_CLIENT = Rule(
    "data-export-personal-data-to-client", ESCALATE, (_stage("security_officer"),),
    "Files with personal data (employee lists, salaries, customer records) go only to the named client contact, "
    "through our secure share, after the security officer checks the recipient and the channel.")
DATA_EXPORT_THIRD_PARTY_APPROVED = Rule(
    "data-export-third-party-approved", ESCALATE, (_stage("security_officer"),),
    "Client data may go to a third party (a subcontractor, another of the client's vendors) only with the client's "
    "written approval; the security officer checks the approval covers this data and this recipient.")
DATA_EXPORT_THIRD_PARTY_UNAPPROVED = Rule(
    "data-export-third-party-unapproved", DENY, (),
    "Our contracts forbid sharing client data with anyone else without the client's written approval. Get it first.")
DATA_EXPORT_BLOCKED_DESTINATION = Rule(
    "data-export-blocked-destination", DENY, (),
    "Client data never goes to personal email, personal cloud storage or a USB drive, whoever asks.")
DATA_DELETE_VERIFIED_REQUEST = Rule(
    "data-delete-verified-request", AUTOMATE, (),
    "A deletion request we have verified came from the client is carried out promptly, as our contracts and privacy "
    "law require.")
DATA_DELETE_UNVERIFIED_REQUEST = Rule(
    "data-delete-unverified-request", ESCALATE, (_stage("security_officer"),),
    "We cannot tell yet that the request really comes from the client; deleting on a forged request is a data loss. "
    "The security officer verifies it through a contact we already have.")
DATA_DELETE_LEGAL_HOLD = Rule(
    "data-delete-legal-hold", DENY, (),
    "The data is under a legal hold (litigation, audit or investigation). Deleting it could be spoliation of "
    "evidence; the hold must be lifted by the managing partner first.")
DATA_DELETE_BILLING_RETENTION = Rule(
    "data-delete-billing-retention", DENY, (),
    "Invoices and payment records must be kept for seven years for tax and audit. Delete the working files and tell "
    "the client which billing records we keep and why.")
CLIENT_ACCESS_READ_ONLY = Rule(
    "client-access-read-only", AUTOMATE, (),
    "Read-only access for a consultant on the engagement (with MFA and the client's approval) lets them do the work; "
    "the IT agent may request it.")
CLIENT_ACCESS_READ_WRITE = Rule(
    "client-access-read-write", ESCALATE, (_stage("delivery_lead", "functional"),),
    "Read-write access lets us change the client's data; a delivery lead confirms the engagement needs it.")
CLIENT_ACCESS_ADMIN = Rule(
    "client-access-admin", ESCALATE, (_stage("delivery_lead", "functional"), _stage("security_officer")),
    "Admin access to a client system can break it or expose everything in it: a delivery lead confirms the need, then"
    " the security officer checks the controls.")
CLIENT_ACCESS_WITHOUT_MFA = Rule(
    "client-access-without-mfa", DENY, (),
    "We never use a client account without multi-factor authentication; ask the client to enable it first.")
CLIENT_ACCESS_WITHOUT_CLIENT_APPROVAL = Rule(
    "client-access-without-client-approval", DENY, (),
    "Access to a client's systems needs the client's written approval naming the person and the access level.")

# policies/client-refunds.json ---------------------------------------------------------------------
REFUND_WITHIN_AUTO_LIMIT = Rule(
    "refund-within-auto-limit", AUTOMATE, (),
    "Refunds up to $250 (a duplicate card payment, a cancelled training seat) cost less than the time to review them."
    " The billing agent issues them to the original payment method.")
REFUND_OPS_APPROVAL = Rule(
    "refund-ops-approval", ESCALATE, (_stage("ops_manager", "functional"),),
    "Refunds above $250 and up to $2,500 need the operations manager, who checks the complaint against what was "
    "delivered.")
REFUND_FINANCE_APPROVAL = Rule(
    "refund-finance-approval", ESCALATE, (_stage("finance_manager", "financial"),),
    "Refunds above $2,500 and up to $10,000 affect the month's revenue; the finance manager decides.")
REFUND_PARTNER_APPROVAL = Rule(
    "refund-partner-approval", ESCALATE,
    (_stage("finance_manager", "financial"), _stage("managing_partner", "executive"),
     _stage("account_manager", "executive", kind="advise")),
    "Refunds above $10,000 are a client-relationship decision: finance reviews the numbers, then the managing partner"
    " signs off, and the client's account manager is briefed before the partner calls the client.")
REFUND_OPEN_CHARGEBACK = Rule(
    "refund-open-chargeback", DENY, (),
    "The client has an open card chargeback on this payment. The card network will return the money if the client "
    "wins, so a refund now would pay them twice. Wait for the chargeback to close.")
REFUND_ALTERNATE_PAYMENT_METHOD = Rule(
    "refund-alternate-payment-method", ESCALATE, (_stage("finance_manager", "financial"),),
    "Refunds go back to the card or account that paid. Sending money anywhere else is the most common refund fraud, "
    "so finance confirms the new account with the client by phone, on a number we already have. (Above $2,500 finance"
    " reviews every refund anyway.)")
CHARGEBACK_CONTEST_DOCUMENTED = Rule(
    "chargeback-contest-documented", AUTOMATE, (),
    "When the client signed the SOW and the timesheets or acceptance emails prove delivery, contesting a chargeback "
    "up to $2,500 is routine: the billing agent submits the evidence pack to the card processor.")
CHARGEBACK_CONTEST_REVIEW = Rule(
    "chargeback-contest-review", ESCALATE, (_stage("finance_manager", "financial"),),
    "Contesting a large chargeback, or one where our evidence is thin, can cost a client relationship or a losing "
    "fee; the finance manager decides whether to fight it or accept it.")

# policies/content-publishing.json -----------------------------------------------------------------
CONTENT_SOCIAL_POST = Rule(
    "content-social-post", AUTOMATE, (),
    "A social post that names no client (an article we liked, an event we attend, a hiring post) may go out as "
    "drafted.")
CONTENT_EDITORIAL_REVIEW = Rule(
    "content-editorial-review", ESCALATE, (_stage("marketing_lead"),),
    "Blog posts, newsletters and case studies speak for the firm at length; the marketing lead reviews them for "
    "accuracy, tone and confidentiality.")
CONTENT_CLIENT_NAMED_APPROVED = Rule(
    "content-client-named-approved", ESCALATE, (_stage("account_manager"), _stage("marketing_lead")),
    "The client approved being named. Their account manager confirms the final wording with them (figures, quotes, "
    "logo), then the marketing lead reviews it.")
CONTENT_CLIENT_NAMED_UNAPPROVED = Rule(
    "content-client-named-unapproved", DENY, (),
    "The piece names or identifies a client who has not approved it in writing. Most of our contracts forbid this. "
    "Anonymise it (\"a regional logistics company\") or get approval first.")
CONTENT_PRICING_DISCLOSURE = Rule(
    "content-pricing-disclosure", ESCALATE, (_stage("sales_lead"),),
    "Published prices or rates become the floor of every negotiation; the head of business development approves any "
    "mention.")

# policies/contracts.json --------------------------------------------------------------------------
CONTRACT_WITHIN_DELEGATED_AUTHORITY = Rule(
    "contract-within-delegated-authority", AUTOMATE, (),
    "A statement of work or change order on our template up to $50,000 is within delegated authority.")
CONTRACT_OUTSIDE_DELEGATION = Rule(
    "contract-outside-delegation", ESCALATE, (_stage("managing_partner", "signature", kind="sign"),),
    "Master agreements, subcontracts, leases and anything on the client's paper or with edited terms set precedents "
    "for years; the managing partner reviews and signs them.")
CONTRACT_ABOVE_DELEGATED_LIMIT = Rule(
    "contract-above-delegated-limit", ESCALATE,
    (_stage("finance_manager", "financial"), _stage("managing_partner", "signature", kind="sign")),
    "Contracts above $50,000 are material to a firm our size: the finance manager reviews payment terms and cash "
    "flow, then the managing partner signs.")
CONTRACT_UNCAPPED_LIABILITY = Rule(
    "contract-uncapped-liability", DENY, (),
    "We never accept unlimited liability. Our professional-liability insurance covers $2M per claim, and one uncapped"
    " contract could end the firm. Counter with a cap of 1x the fees paid in the last 12 months.")
CONTRACT_SIGNER_WITHOUT_AUTHORITY = Rule(
    "contract-signer-without-authority", DENY, (),
    "Only the managing partner, the delivery leads and the head of business development may sign contracts for the "
    "firm. Ask one of them to sign.")

# policies/discounts.json --------------------------------------------------------------------------
DISCOUNT_WITHIN_STANDARD = Rule(
    "discount-within-standard", AUTOMATE, (),
    "Up to 10% off the rate card (15% for key and strategic clients) is normal negotiation; no approval needed.")
DISCOUNT_SALES_LEAD_APPROVAL = Rule(
    "discount-sales-lead-approval", ESCALATE, (_stage("sales_lead", "functional"),),
    "Discounts above the automatic ceiling and up to 20% need the head of business development, who keeps pricing "
    "consistent across clients.")
DISCOUNT_PARTNER_APPROVAL = Rule(
    "discount-partner-approval", ESCALATE,
    (_stage("managing_partner", "executive"), _stage("finance_manager", "executive", kind="notify")),
    "Discounts above 20% cut into the margin that pays for the bench; the managing partner decides, and the finance "
    "manager is told so the revenue forecast stays right.")
DISCOUNT_ABOVE_HARD_CAP = Rule(
    "discount-above-hard-cap", DENY, (),
    "Above 35% off we lose money on every hour delivered. Reduce the scope instead of the rate.")
DISCOUNT_YEAR_END_FREEZE = Rule(
    "discount-year-end-freeze", ESCALATE, (_stage("finance_manager", "financial"),),
    "During the 2026 year-end close every discount changes the revenue we report for the year, so the finance manager"
    " signs off on each one until the books close.")

# policies/expenses.json ---------------------------------------------------------------------------
EXPENSE_WITHIN_AUTO_LIMIT = Rule(
    "expense-within-auto-limit", AUTOMATE, (),
    "Claims up to $500 with a receipt (or up to $50 without one) are paid in the next reimbursement run without "
    "review.")
EXPENSE_MISSING_RECEIPT = Rule(
    "expense-missing-receipt", ESCALATE, (_stage("finance_manager", "financial"),),
    "Above $50 we need an itemised receipt. Without one, finance may accept a signed missing-receipt declaration, or "
    "decline. (Above $2,500 finance reviews the claim anyway.)")
EXPENSE_MANAGER_APPROVAL = Rule(
    "expense-manager-approval", ESCALATE, (_stage(MANAGER_OF_REQUESTER, "functional"),),
    "Claims above $500 and up to $2,500 need the claimant's manager, who knows whether the trip or the training was "
    "needed.")
EXPENSE_FINANCE_APPROVAL = Rule(
    "expense-finance-approval", ESCALATE,
    (_stage(MANAGER_OF_REQUESTER, "functional"), _stage("finance_manager", "financial")),
    "Claims above $2,500 (usually international travel or a conference) should have been booked through the firm. The"
    " claimant's manager confirms the need, then the finance manager approves the payment.")
EXPENSE_LATE_CLAIM = Rule(
    "expense-late-claim", DENY, (),
    "Claims submitted more than 90 days after the expense are not reimbursed: the IRS accountable-plan rules would "
    "make the payment taxable income, and the client can no longer be re-billed.")
EXPENSE_NEVER_REIMBURSABLE = Rule(
    "expense-never-reimbursable", DENY, (),
    "Personal items, commuting to the office, traffic or parking fines and seat or class upgrades are never paid by "
    "the firm.")
EXPENSE_MEAL_PER_PERSON_CAP = Rule(
    "expense-meal-per-person-cap", ESCALATE, (_stage("ops_manager", "functional"),),
    "From 1 July 2026 meals cost at most $75 per person including tax and tip. A dearer meal needs the operations "
    "manager, who usually approves it for a client dinner and asks why for an internal one.")

# policies/hiring.json -----------------------------------------------------------------------------
OFFER_WITHIN_BAND = Rule(
    "offer-within-band", AUTOMATE, (),
    "A base salary at or below the top of the band for the level is fair and budgeted; people ops may send the offer.")
OFFER_ABOVE_BAND = Rule(
    "offer-above-band", ESCALATE, (_stage("managing_partner", "executive"),),
    "Paying above the band makes pay unfair for people already in the level; the managing partner decides and may "
    "instead re-level the role.")
OFFER_UNBUDGETED_HEADCOUNT = Rule(
    "offer-unbudgeted-headcount", DENY, (),
    "The role is not in the approved headcount plan. Get the role approved by the managing partner before making an "
    "offer.")
OFFER_SIGNING_BONUS = Rule(
    "offer-signing-bonus", ESCALATE, (_stage("finance_manager", "financial"),),
    "A signing bonus above $5,000 is a cash cost outside the salary budget; the finance manager approves it.")

# policies/lead-handling.json ----------------------------------------------------------------------
LEAD_AUTO_FIRST_RESPONSE = Rule(
    "lead-auto-first-response", AUTOMATE, (),
    "A new prospect with a likely engagement up to $100,000 gets a prompt, friendly first response from the intake "
    "agent with a discovery-call link.")
LEAD_EXISTING_CLIENT = Rule(
    "lead-existing-client", ESCALATE, (_stage("account_manager"),),
    "An enquiry from an existing client goes to their account manager: they know the context and a bot reply would "
    "feel cold.")
LEAD_LARGE_OPPORTUNITY = Rule(
    "lead-large-opportunity", ESCALATE, (_stage("sales_lead"),),
    "A likely engagement above $100,000 gets a personal reply from the head of business development.")
LEAD_CONFLICT_OF_INTEREST = Rule(
    "lead-conflict-of-interest", ESCALATE, (_stage("managing_partner"),),
    "The prospect competes with a client we have an exclusivity or non-compete clause with. The managing partner "
    "checks the conflict before anyone replies; without an answer we do not engage.")
LEAD_EMBARGOED_COUNTRY = Rule(
    "lead-embargoed-country", DENY, (),
    "The organisation is in a country under comprehensive US sanctions; we may not provide services there.")

# policies/ndas.json -------------------------------------------------------------------------------
NDA_STANDARD_MUTUAL = Rule(
    "nda-standard-mutual", AUTOMATE, (),
    "Our mutual NDA template with a term of up to three years protects both sides equally; no review needed.")
NDA_NONSTANDARD_REVIEW = Rule(
    "nda-nonstandard-review", ESCALATE, (_stage("ops_manager", "legal"),),
    "A one-way NDA, the other side's paper or a term longer than three years needs the operations manager to check it"
    " against our NDA checklist (definition of confidential information, residuals, term, governing law).")
NDA_RESTRICTIVE_COVENANT = Rule(
    "nda-restrictive-covenant", ESCALATE, (_stage("managing_partner", "signature", kind="sign"),),
    "A non-compete, non-solicit or exclusivity clause in an NDA can stop us working for a whole industry; the "
    "managing partner decides and signs it herself, after the operations manager's checklist review when the NDA is "
    "not our template.")

# policies/purchasing.json -------------------------------------------------------------------------
PURCHASE_WITHIN_AUTO_LIMIT = Rule(
    "purchase-within-auto-limit", AUTOMATE, (),
    "Budgeted purchases up to $1,000 (a monitor, a headset, printer toner) go ahead without approval.")
PURCHASE_OPS_APPROVAL = Rule(
    "purchase-ops-approval", ESCALATE, (_stage("ops_manager", "functional"),),
    "Purchases above $1,000 and up to $5,000 need the operations manager.")
PURCHASE_BUDGET_OWNER = Rule(
    "purchase-budget-owner", ESCALATE, (_stage(BUDGET_OWNER_OF_COST_CENTER, "financial"),),
    "A budgeted purchase above $1,000 is charged to a cost centre, and the budget owner of that cost centre approves "
    "the charge to their budget: the practice lead for a practice, the finance manager for firm overhead. Nobody "
    "approves a charge to their own budget for their own request: then the unit above approves.")
PURCHASE_FINANCE_APPROVAL = Rule(
    "purchase-finance-approval", ESCALATE, (_stage("finance_manager", "financial"),),
    "Purchases above $5,000 and up to $10,000 need the finance manager, who checks cash flow and asks for two quotes.")
PURCHASE_PARTNER_APPROVAL = Rule(
    "purchase-partner-approval", ESCALATE,
    (_stage("ops_manager", "functional"), _stage("managing_partner", "executive")),
    "Purchases above $10,000 are rare for a firm our size: the operations manager checks the need and three quotes, "
    "then the managing partner signs off.")
PURCHASE_UNBUDGETED = Rule(
    "purchase-unbudgeted", ESCALATE, (_stage("finance_manager", "financial"),),
    "Purchases that are not in this year's budget, whatever their size, need the finance manager, who can move money "
    "from another line or say no.")

# policies/software-subscriptions.json -------------------------------------------------------------
SUBSCRIPTION_START_WITHIN_LIMIT = Rule(
    "subscription-start-within-limit", AUTOMATE, (),
    "A small tool that never touches client data (a diagramming app, a stock-photo plan) can start on the team's "
    "card.")
SUBSCRIPTION_START_CLIENT_DATA = Rule(
    "subscription-start-client-data", ESCALATE, (_stage("security_officer"), _stage("ops_manager")),
    "A tool that will store or process client data becomes our sub-processor: the security officer reviews its SOC 2 "
    "report and data processing agreement before the operations manager approves the spend.")
SUBSCRIPTION_START_OVER_LIMIT = Rule(
    "subscription-start-over-limit", ESCALATE, (_stage("ops_manager", "functional"),),
    "New tools above $1,200 a year need the operations manager, who checks we do not already pay for something that "
    "does the job.")
SUBSCRIPTION_TOOL_ANNUAL_SPEND = Rule(
    "subscription-tool-annual-spend", ESCALATE, (_stage("finance_manager", "financial"),),
    "Spend on one tool above $10,000 a year, counting every purchase of it, needs the finance manager.")
SUBSCRIPTION_RENEW_WITHIN_LIMIT = Rule(
    "subscription-renew-within-limit", AUTOMATE, (),
    "Renewals up to $5,000 a year with a price rise of at most 10% go ahead so the team is never locked out of a "
    "tool.")
SUBSCRIPTION_RENEW_PRICE_INCREASE = Rule(
    "subscription-renew-price-increase", ESCALATE, (_stage("ops_manager", "functional"),),
    "A small renewal with a price rise above 10% goes to the operations manager to negotiate or cut seats. If nobody "
    "answers within 3 business days it renews anyway: losing a tool the team uses every day costs more than the "
    "increase.")
SUBSCRIPTION_RENEW_LARGE = Rule(
    "subscription-renew-large", ESCALATE, (_stage("finance_manager", "financial"),),
    "Renewals above $5,000 a year are among our biggest fixed costs; the finance manager reviews usage and price "
    "before we commit.")

# policies/vendors.json ----------------------------------------------------------------------------
VENDOR_ONBOARD_STANDARD = Rule(
    "vendor-onboard-standard", AUTOMATE, (),
    "A vendor we expect to pay up to $10,000 a year that will not touch client data can be set up once its paperwork "
    "is complete.")
VENDOR_ONBOARD_SANCTIONS_HIT = Rule(
    "vendor-onboard-sanctions-hit", DENY, (),
    "The vendor or its owners matched the OFAC sanctions list. US law forbids paying them; nobody can override this.")
VENDOR_ONBOARD_MISSING_TAX_FORM = Rule(
    "vendor-onboard-missing-tax-form", DENY, (),
    "We cannot onboard a vendor without a W-9 (or W-8BEN from a foreign vendor): we would have to withhold 24% and "
    "file 1099s blind. Collect the form, then ask again.")
VENDOR_ONBOARD_CLIENT_DATA = Rule(
    "vendor-onboard-client-data", ESCALATE, (_stage("security_officer"), _stage("ops_manager")),
    "A vendor that will see client data (a subcontractor, a transcription service, a hosting provider) needs the "
    "security officer's review of its security and confidentiality terms, then the operations manager's approval.")
VENDOR_ONBOARD_LARGE_SPEND = Rule(
    "vendor-onboard-large-spend", ESCALATE, (_stage("ops_manager", "functional"),),
    "A vendor we expect to pay more than $10,000 a year is a real commitment; the operations manager checks "
    "alternatives and terms.")
VENDOR_PAY_MATCHED_INVOICE = Rule(
    "vendor-pay-matched-invoice", AUTOMATE, (),
    "Invoices up to $5,000 that match an approved purchase order (amount, vendor, items) are paid on their due date.")
VENDOR_PAY_UNMATCHED_INVOICE = Rule(
    "vendor-pay-unmatched-invoice", ESCALATE, (_stage("ops_manager", "functional"),),
    "An invoice that does not match a purchase order needs the operations manager to confirm we received what it "
    "bills.")
VENDOR_PAY_OVER_AUTO_LIMIT = Rule(
    "vendor-pay-over-auto-limit", ESCALATE,
    (_stage("ops_manager", "functional"), _stage("finance_manager", "financial")),
    "Payments above $5,000 need two people: the operations manager confirms the goods or services were received, then"
    " the finance manager releases the payment.")
VENDOR_PAY_NEW_COUNTERPARTY_LARGE = Rule(
    "vendor-pay-new-counterparty-large", ESCALATE,
    (_stage("finance_manager", "financial"), _stage("managing_partner", "executive")),
    "The first payment above $25,000 to a vendor we have never paid is where payment fraud hurts most: the finance "
    "manager verifies the vendor and the bank account, then the managing partner approves.")
VENDOR_PAY_UNVERIFIED_BANK_CHANGE = Rule(
    "vendor-pay-unverified-bank-change", DENY, (),
    "The vendor's bank details changed and nobody has confirmed the change by calling the vendor on a number we "
    "already had. Fake 'we changed banks' emails are the commonest payment fraud; verify first, then ask again.")
VENDOR_PAY_NOT_ONBOARDED = Rule(
    "vendor-pay-not-onboarded", DENY, (),
    "We only pay vendors that completed onboarding (W-9, sanctions screen, verified bank details). Onboard them "
    "first.")


# reading the request: a field of the wrong kind is an error (the rule reading it does not match) ---
def _number(value: Any, path: str, errors: list[str]) -> float | None:
    """A finite number, or None when absent or of the wrong kind (noted in errors)."""
    if value is None:
        return None
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return value
    errors.append(f"`{path}` is not a number")
    return None


def _flag(value: Any, path: str, errors: list[str]) -> bool | None:
    """True or False, or None when absent or of the wrong kind (noted in errors)."""
    if value is True or value is False or value is None:
        return value
    errors.append(f"`{path}` is not true or false")
    return None


def _text(value: Any, path: str, errors: list[str]) -> str | None:
    """Text, or None when absent or of the wrong kind (noted in errors)."""
    if value is None or type(value) is str:
        return value
    errors.append(f"`{path}` is not text")
    return None


# one function per action: the rules that match, in the order the policy lists them. A field is read
# only where some rule's condition, evaluated left to right, gets as far as comparing it.
def _credit_note(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    if amount is None:
        return matched
    if amount <= CREDIT_AUTO_LIMIT:
        reason = _text(attrs.get("reason_code"), "attributes.reason_code", errors)
        if reason in AUTO_CREDIT_REASONS:
            matched.append(CREDIT_NOTE_ROUTINE_CORRECTION)
        elif reason is not None:
            matched.append(CREDIT_NOTE_FINANCE_REVIEW)
    elif amount <= CREDIT_FINANCE_LIMIT:
        matched.append(CREDIT_NOTE_FINANCE_REVIEW)
    else:
        matched.append(CREDIT_NOTE_PARTNER_APPROVAL)
    return matched


def _write_off(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    if amount is None:
        return matched
    if amount <= WRITE_OFF_AUTO_LIMIT:
        days = _number(attrs.get("days_since_invoice"), "attributes.days_since_invoice", errors)
        if days is not None:
            matched.append(WRITE_OFF_SMALL_AGED if days >= WRITE_OFF_MIN_AGE_DAYS else WRITE_OFF_FINANCE_REVIEW)
    elif amount <= WRITE_OFF_FINANCE_LIMIT:
        matched.append(WRITE_OFF_FINANCE_REVIEW)
    else:
        matched.append(WRITE_OFF_PARTNER_APPROVAL)
    return matched


def _payment_plan(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    raw = request.get("amount")
    amount = _number(raw, "amount", errors)
    if amount is not None and amount > PAYMENT_PLAN_AUTO_LIMIT:
        matched.append(PAYMENT_PLAN_FINANCE_REVIEW)
    elif amount is not None or raw is None:
        installments = _number(attrs.get("installments"), "attributes.installments", errors)
        if installments is not None:
            if amount is not None and installments <= PAYMENT_PLAN_MAX_INSTALLMENTS:
                matched.append(PAYMENT_PLAN_STANDARD)
            elif installments > PAYMENT_PLAN_MAX_INSTALLMENTS:
                matched.append(PAYMENT_PLAN_FINANCE_REVIEW)
    if _flag(attrs.get("has_invoice_over_90_days"), "attributes.has_invoice_over_90_days", errors) is True:
        matched.append(PAYMENT_PLAN_CLIENT_IN_ARREARS)
    return matched


def _data_export(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    to_client = _flag(attrs.get("recipient_is_client"), "attributes.recipient_is_client", errors)
    if to_client is True:
        personal = _flag(attrs.get("contains_personal_data"), "attributes.contains_personal_data", errors)
        if personal is False:
            matched.append(DATA_EXPORT_TO_CLIENT)
        elif personal is True:
            matched.append(DATA_EXPORT_PERSONAL_DATA_TO_CLIENT)
    elif to_client is False:
        approved = _flag(attrs.get("client_approved"), "attributes.client_approved", errors)
        if approved is True:
            matched.append(DATA_EXPORT_THIRD_PARTY_APPROVED)
        elif approved is False:
            matched.append(DATA_EXPORT_THIRD_PARTY_UNAPPROVED)
    if _text(attrs.get("destination"), "attributes.destination", errors) in PRIVACY_BLOCKED_DESTINATIONS:
        matched.append(DATA_EXPORT_BLOCKED_DESTINATION)
    return matched


def _data_delete(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    verified = _flag(attrs.get("request_verified"), "attributes.request_verified", errors)
    if verified is True:
        matched.append(DATA_DELETE_VERIFIED_REQUEST)
    elif verified is False:
        matched.append(DATA_DELETE_UNVERIFIED_REQUEST)
    if _flag(attrs.get("legal_hold"), "attributes.legal_hold", errors) is True:
        matched.append(DATA_DELETE_LEGAL_HOLD)
    if _text(attrs.get("data_category"), "attributes.data_category", errors) == "billing_records":
        years = _number(attrs.get("years_since_created"), "attributes.years_since_created", errors)
        if years is not None and years < PRIVACY_BILLING_RETENTION_YEARS:
            matched.append(DATA_DELETE_BILLING_RETENTION)
    return matched


def _system_access(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    level = _text(attrs.get("access_level"), "attributes.access_level", errors)
    if level == "read_only":
        matched.append(CLIENT_ACCESS_READ_ONLY)
    elif level == "read_write":
        matched.append(CLIENT_ACCESS_READ_WRITE)
    elif level == "admin":
        matched.append(CLIENT_ACCESS_ADMIN)
    if _flag(attrs.get("mfa_enabled"), "attributes.mfa_enabled", errors) is False:
        matched.append(CLIENT_ACCESS_WITHOUT_MFA)
    if _flag(attrs.get("client_approved"), "attributes.client_approved", errors) is False:
        matched.append(CLIENT_ACCESS_WITHOUT_CLIENT_APPROVAL)
    return matched


def _refund(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    if amount is not None:
        if amount <= REFUND_AUTO_LIMIT:
            matched.append(REFUND_WITHIN_AUTO_LIMIT)
        elif amount <= REFUND_OPS_LIMIT:
            matched.append(REFUND_OPS_APPROVAL)
        elif amount <= REFUND_FINANCE_LIMIT:
            matched.append(REFUND_FINANCE_APPROVAL)
        else:
            matched.append(REFUND_PARTNER_APPROVAL)
    if _flag(attrs.get("chargeback_open"), "attributes.chargeback_open", errors) is True:
        matched.append(REFUND_OPEN_CHARGEBACK)
    original = _flag(attrs.get("to_original_payment_method"), "attributes.to_original_payment_method", errors)
    if original is False and amount is not None and amount <= REFUND_OPS_LIMIT:
        matched.append(REFUND_ALTERNATE_PAYMENT_METHOD)
    return matched


def _chargeback(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    raw = attrs.get("evidence_complete")
    evidence = _flag(raw, "attributes.evidence_complete", errors)
    amount = _number(request.get("amount"), "amount", errors) if evidence is True or raw is None else None
    if evidence is True and amount is not None and amount <= CHARGEBACK_AUTO_CONTEST_LIMIT:
        matched.append(CHARGEBACK_CONTEST_DOCUMENTED)
    if evidence is False or (amount is not None and amount > CHARGEBACK_AUTO_CONTEST_LIMIT):
        matched.append(CHARGEBACK_CONTEST_REVIEW)
    return matched


def _content(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    channel = _text(attrs.get("channel"), "attributes.channel", errors)
    names_client = _flag(attrs.get("contains_client_name"), "attributes.contains_client_name", errors)
    if names_client is False:
        if channel in CONTENT_SOCIAL_CHANNELS:
            matched.append(CONTENT_SOCIAL_POST)
        if channel in CONTENT_REVIEW_CHANNELS:
            matched.append(CONTENT_EDITORIAL_REVIEW)
    elif names_client is True:
        approved = _flag(attrs.get("client_approved"), "attributes.client_approved", errors)
        if approved is True:
            matched.append(CONTENT_CLIENT_NAMED_APPROVED)
        elif approved is False:
            matched.append(CONTENT_CLIENT_NAMED_UNAPPROVED)
    if _flag(attrs.get("mentions_pricing"), "attributes.mentions_pricing", errors) is True:
        matched.append(CONTENT_PRICING_DISCLOSURE)
    return matched


def _contract(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    raw_kind = attrs.get("contract_type")
    kind = _text(raw_kind, "attributes.contract_type", errors)
    delegated = kind in CONTRACT_DELEGATED_TYPES
    within_limit = amount is not None and amount <= CONTRACT_DELEGATED_LIMIT
    template = (_flag(attrs.get("uses_standard_template"), "attributes.uses_standard_template", errors)
                if delegated or (raw_kind is None and within_limit) else None)
    if within_limit:
        if delegated and template is True:
            matched.append(CONTRACT_WITHIN_DELEGATED_AUTHORITY)
        if (kind is not None and not delegated) or template is False:
            matched.append(CONTRACT_OUTSIDE_DELEGATION)
    elif amount is not None:
        matched.append(CONTRACT_ABOVE_DELEGATED_LIMIT)
    if _flag(attrs.get("unlimited_liability"), "attributes.unlimited_liability", errors) is True:
        matched.append(CONTRACT_UNCAPPED_LIABILITY)
    actor = request.get("actor")
    if type(actor) is dict and _text(actor.get("kind"), "actor.kind", errors) == "human":
        role = _text(actor.get("role"), "actor.role", errors)
        if role is not None and role not in CONTRACT_SIGNATORY_ROLES:
            matched.append(CONTRACT_SIGNER_WITHOUT_AUTHORITY)
    return matched


def _discount(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    pct = _number(attrs.get("discount_pct"), "attributes.discount_pct", errors)
    if pct is None:
        return matched
    if pct <= DISCOUNT_AUTO_MAX_PCT:
        matched.append(DISCOUNT_WITHIN_STANDARD)
    else:
        raw_tier = attrs.get("client_tier")
        tier = _text(raw_tier, "attributes.client_tier", errors)
        key_client = tier in DISCOUNT_KEY_CLIENT_TIERS
        if key_client and pct <= DISCOUNT_KEY_CLIENT_AUTO_MAX_PCT:
            matched.append(DISCOUNT_WITHIN_STANDARD)
        # `any` of (not a key client, above the key-client ceiling): a tier of the wrong kind fails the rule
        if (pct <= DISCOUNT_SALES_LEAD_MAX_PCT and (tier is not None or raw_tier is None)
                and ((tier is not None and not key_client) or pct > DISCOUNT_KEY_CLIENT_AUTO_MAX_PCT)):
            matched.append(DISCOUNT_SALES_LEAD_APPROVAL)
    if pct > DISCOUNT_SALES_LEAD_MAX_PCT:
        matched.append(DISCOUNT_PARTNER_APPROVAL)
    if pct > DISCOUNT_HARD_CAP_PCT:
        matched.append(DISCOUNT_ABOVE_HARD_CAP)
    if DISCOUNT_FREEZE_FROM <= at < DISCOUNT_FREEZE_UNTIL and pct > 0:
        matched.append(DISCOUNT_YEAR_END_FREEZE)
    return matched


def _expense(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    raw_receipt = attrs.get("has_receipt")
    receipt = _flag(raw_receipt, "attributes.has_receipt", errors)
    if amount is not None:
        # `any` of (has a receipt, small enough): a receipt flag of the wrong kind fails the whole rule
        if (amount <= EXPENSE_AUTO_LIMIT and (receipt is not None or raw_receipt is None)
                and (receipt is True or amount <= EXPENSE_RECEIPT_REQUIRED_ABOVE)):
            matched.append(EXPENSE_WITHIN_AUTO_LIMIT)
        if receipt is False and EXPENSE_RECEIPT_REQUIRED_ABOVE < amount <= EXPENSE_OPS_LIMIT:
            matched.append(EXPENSE_MISSING_RECEIPT)
        if EXPENSE_AUTO_LIMIT < amount <= EXPENSE_OPS_LIMIT:
            matched.append(EXPENSE_MANAGER_APPROVAL)
        if amount > EXPENSE_OPS_LIMIT:
            matched.append(EXPENSE_FINANCE_APPROVAL)
    days = _number(attrs.get("days_since_expense"), "attributes.days_since_expense", errors)
    if days is not None and days > EXPENSE_MAX_CLAIM_AGE_DAYS:
        matched.append(EXPENSE_LATE_CLAIM)
    category = _text(attrs.get("category"), "attributes.category", errors)
    if category in EXPENSE_NEVER_REIMBURSED:
        matched.append(EXPENSE_NEVER_REIMBURSABLE)
    if at >= MEAL_CAP_FROM and category == "meals":
        per_person = _number(attrs.get("per_person_amount"), "attributes.per_person_amount", errors)
        if (per_person is not None and per_person > MEAL_PER_PERSON_CAP
                and amount is not None and amount <= EXPENSE_AUTO_LIMIT):
            matched.append(EXPENSE_MEAL_PER_PERSON_CAP)
    return matched


def _offer(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    salary: Any = request.get("amount")
    band: Any = attrs.get("salary_band_max")
    # the policy compares these with a raw JMESPath expression, which orders numbers only: either side
    # absent answers null (no match), anything else but two numbers is an error of both rules
    if salary is not None and band is not None:
        if type(salary) in (int, float) and type(band) in (int, float):
            if salary <= band:
                matched.append(OFFER_WITHIN_BAND)
            if salary > band:
                matched.append(OFFER_ABOVE_BAND)
        else:
            errors.append("`amount` and `attributes.salary_band_max` are not both numbers")
    if _flag(attrs.get("headcount_approved"), "attributes.headcount_approved", errors) is False:
        matched.append(OFFER_UNBUDGETED_HEADCOUNT)
    bonus = _number(attrs.get("signing_bonus"), "attributes.signing_bonus", errors)
    if bonus is not None and bonus > HIRING_SIGNING_BONUS_AUTO_LIMIT:
        matched.append(OFFER_SIGNING_BONUS)
    return matched


def _lead(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    existing = _flag(attrs.get("is_existing_client"), "attributes.is_existing_client", errors)
    if amount is not None:
        if amount <= LEAD_AUTO_RESPONSE_MAX_VALUE:
            if existing is False:
                matched.append(LEAD_AUTO_FIRST_RESPONSE)
            elif existing is True:
                matched.append(LEAD_EXISTING_CLIENT)
        else:
            matched.append(LEAD_LARGE_OPPORTUNITY)
    if _flag(attrs.get("conflict_with_exclusive_client"), "attributes.conflict_with_exclusive_client",
             errors) is True:
        matched.append(LEAD_CONFLICT_OF_INTEREST)
    if _text(attrs.get("country"), "attributes.country", errors) in LEAD_EMBARGOED_COUNTRIES:
        matched.append(LEAD_EMBARGOED_COUNTRY)
    return matched


def _nda(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    raw_template = attrs.get("uses_our_template")
    template = _flag(raw_template, "attributes.uses_our_template", errors)
    mutual = years = None
    if template is True or raw_template is None:
        raw_mutual = attrs.get("is_mutual")
        mutual = _flag(raw_mutual, "attributes.is_mutual", errors)
        if mutual is True or raw_mutual is None:
            years = _number(attrs.get("term_years"), "attributes.term_years", errors)
    if template is True and mutual is True and years is not None and years <= NDA_MAX_TERM_YEARS:
        matched.append(NDA_STANDARD_MUTUAL)
    if template is False or mutual is False or (years is not None and years > NDA_MAX_TERM_YEARS):
        matched.append(NDA_NONSTANDARD_REVIEW)
    if _flag(attrs.get("has_non_compete"), "attributes.has_non_compete", errors) is True:
        matched.append(NDA_RESTRICTIVE_COVENANT)
    return matched


def _purchase(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    in_budget = _flag(attrs.get("in_budget"), "attributes.in_budget", errors)
    if amount is not None:
        if amount <= PURCHASE_AUTO_LIMIT:
            if in_budget is True:
                matched.append(PURCHASE_WITHIN_AUTO_LIMIT)
        else:  # two columns: the need by amount, the money by budget
            if amount <= PURCHASE_OPS_LIMIT:
                matched.append(PURCHASE_OPS_APPROVAL)
            if in_budget is True:
                matched.append(PURCHASE_BUDGET_OWNER)
            if PURCHASE_OPS_LIMIT < amount <= PURCHASE_FINANCE_LIMIT:
                matched.append(PURCHASE_FINANCE_APPROVAL)
            elif amount > PURCHASE_FINANCE_LIMIT:
                matched.append(PURCHASE_PARTNER_APPROVAL)
    if in_budget is False:
        matched.append(PURCHASE_UNBUDGETED)
    return matched


def _subscription_start(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    client_data = _flag(attrs.get("handles_client_data"), "attributes.handles_client_data", errors)
    if amount is not None and amount <= SUBSCRIPTION_AUTO_START_LIMIT and client_data is False:
        matched.append(SUBSCRIPTION_START_WITHIN_LIMIT)
    if client_data is True:
        matched.append(SUBSCRIPTION_START_CLIENT_DATA)
    if amount is not None and amount > SUBSCRIPTION_AUTO_START_LIMIT and client_data is False:
        matched.append(SUBSCRIPTION_START_OVER_LIMIT)
    if amount is not None and amount > SUBSCRIPTION_TOOL_ANNUAL_LIMIT:
        matched.append(SUBSCRIPTION_TOOL_ANNUAL_SPEND)
    return matched


def _subscription_renew(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    if amount is None:
        return matched
    if amount <= SUBSCRIPTION_AUTO_RENEW_LIMIT:
        increase = _number(attrs.get("price_increase_pct"), "attributes.price_increase_pct", errors)
        if increase is not None:
            matched.append(SUBSCRIPTION_RENEW_WITHIN_LIMIT if increase <= SUBSCRIPTION_MAX_AUTO_PRICE_INCREASE_PCT
                           else SUBSCRIPTION_RENEW_PRICE_INCREASE)
    else:
        matched.append(SUBSCRIPTION_RENEW_LARGE)
    return matched


def _vendor_onboard(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    client_data = _flag(attrs.get("handles_client_data"), "attributes.handles_client_data", errors)
    if amount is not None and amount <= VENDOR_ONBOARD_AUTO_ANNUAL_SPEND and client_data is False:
        matched.append(VENDOR_ONBOARD_STANDARD)
    if _flag(attrs.get("sanctions_check_clear"), "attributes.sanctions_check_clear", errors) is False:
        matched.append(VENDOR_ONBOARD_SANCTIONS_HIT)
    if _flag(attrs.get("has_w9"), "attributes.has_w9", errors) is False:
        matched.append(VENDOR_ONBOARD_MISSING_TAX_FORM)
    if client_data is True:
        matched.append(VENDOR_ONBOARD_CLIENT_DATA)
    if amount is not None and amount > VENDOR_ONBOARD_AUTO_ANNUAL_SPEND and client_data is False:
        matched.append(VENDOR_ONBOARD_LARGE_SPEND)
    return matched


def _vendor_pay(request: dict, attrs: dict, at: datetime, errors: list[str]) -> list[Rule]:
    matched: list[Rule] = []
    amount = _number(request.get("amount"), "amount", errors)
    matches_po = _flag(attrs.get("invoice_matches_po"), "attributes.invoice_matches_po", errors)
    new_vendor = _flag(attrs.get("vendor_is_new"), "attributes.vendor_is_new", errors)
    if amount is not None:
        if amount <= VENDOR_AUTO_PAY_LIMIT:
            if matches_po is True:
                matched.append(VENDOR_PAY_MATCHED_INVOICE)
            elif matches_po is False:
                matched.append(VENDOR_PAY_UNMATCHED_INVOICE)
        else:
            matched.append(VENDOR_PAY_OVER_AUTO_LIMIT)
        if new_vendor is True and amount > VENDOR_NEW_COUNTERPARTY_LIMIT:
            matched.append(VENDOR_PAY_NEW_COUNTERPARTY_LARGE)
    if (_flag(attrs.get("bank_details_changed"), "attributes.bank_details_changed", errors) is True
            and _flag(attrs.get("bank_change_verified"), "attributes.bank_change_verified", errors) is False):
        matched.append(VENDOR_PAY_UNVERIFIED_BANK_CHANGE)
    if _flag(attrs.get("vendor_onboarded"), "attributes.vendor_onboarded", errors) is False:
        matched.append(VENDOR_PAY_NOT_ONBOARDED)
    return matched


# action -> (its rules, the owning policy, the policy's owner, the agents' bar) -----------------------
ACTIONS = {
    "invoice.credit_note": (_credit_note, "billing-exceptions", "finance_manager", MIN_CONFIDENCE),
    "invoice.write_off": (_write_off, "billing-exceptions", "finance_manager", MIN_CONFIDENCE),
    "invoice.payment_plan": (_payment_plan, "billing-exceptions", "finance_manager", MIN_CONFIDENCE),
    "client_data.export": (_data_export, "client-data", "security_officer", PRIVACY_MIN_CONFIDENCE),
    "client_data.delete": (_data_delete, "client-data", "security_officer", PRIVACY_MIN_CONFIDENCE),
    "client_system.access": (_system_access, "client-data", "security_officer", PRIVACY_MIN_CONFIDENCE),
    "refund.issue": (_refund, "client-refunds", "finance_manager", REFUND_MIN_CONFIDENCE),
    "chargeback.contest": (_chargeback, "client-refunds", "finance_manager", REFUND_MIN_CONFIDENCE),
    "content.publish": (_content, "content-publishing", "marketing_lead", MIN_CONFIDENCE),
    "contract.sign": (_contract, "contracts", "managing_partner", MIN_CONFIDENCE),
    "discount.apply": (_discount, "discounts", "sales_lead", MIN_CONFIDENCE),
    "expense.reimburse": (_expense, "expenses", "finance_manager", MIN_CONFIDENCE),
    "offer.extend": (_offer, "hiring", "people_ops", MIN_CONFIDENCE),
    "lead.respond": (_lead, "lead-handling", "sales_lead", MIN_CONFIDENCE),
    "nda.sign": (_nda, "ndas", "ops_manager", MIN_CONFIDENCE),
    "purchase.order": (_purchase, "purchasing", "ops_manager", MIN_CONFIDENCE),
    "subscription.start": (_subscription_start, "software-subscriptions", "ops_manager", MIN_CONFIDENCE),
    "subscription.renew": (_subscription_renew, "software-subscriptions", "ops_manager", MIN_CONFIDENCE),
    "vendor.onboard": (_vendor_onboard, "vendors", "finance_manager", PAYMENT_MIN_CONFIDENCE),
    "vendor.pay": (_vendor_pay, "vendors", "finance_manager", PAYMENT_MIN_CONFIDENCE),
}

OWNER_PLANS = {owner: _combine([(None, (_stage(owner),))]) for _, _, owner, _ in ACTIONS.values()}


# the decision ------------------------------------------------------------------------------------
def _in_currency(request: dict[str, Any], at: datetime, errors: list[str]) -> dict[str, Any]:
    """The request with its amount in USD at the rate of its day; unchanged, with an error, when there is none."""
    currency = request.get("currency")
    if currency is None or currency == CURRENCY or "amount" not in request:
        return request
    amount = request["amount"]
    rates = RATES.get(currency) if type(currency) is str else None
    if rates and (type(amount) is int or (type(amount) is float and math.isfinite(amount))):
        day = at.astimezone(ZONE).date()
        for start, rate in rates:
            if start <= day:
                return {**request, "amount": round(amount * rate, 2), "currency": CURRENCY}
    errors.append(f"the amount is in `{currency}` and there is no rate to {CURRENCY} on the request's day")
    return request


def _budget_owner(request: dict[str, Any], requester: Any) -> str | None:
    """The role of who approves the money of the request's cost centre (never the requester), or None."""
    attrs = request.get("attributes")
    center = attrs.get("cost_center") if type(attrs) is dict else None
    unit = BUDGET_UNITS.get(center) if type(center) is str else None
    while unit is not None:
        owner, parent = unit
        if owner != requester:
            return ROLES_OF[owner][0]
        if parent is None:  # the requester owns the top unit's money: up reports_to from their role
            return REPORTS_TO[ROLES_OF[owner][0]]
        unit = BUDGET_UNITS[parent]
    return None


def _manager(request: dict[str, Any], requester: Any) -> str | None:
    """The role of the requester's manager: the one the role they act in reports to, or None."""
    roles = ROLES_OF.get(requester) if type(requester) is str else None
    if roles is None:
        return None
    actor = request["actor"]
    claimed = actor.get("role")
    return REPORTS_TO[claimed if type(claimed) is str and claimed in roles else roles[0]]


def _stages(plan: Plan, request: dict[str, Any], errors: list[str]) -> list[dict[str, Any]]:
    """The plan's stages with the role and people who take each; a relative approver that cannot be
    found is an error, and the managing partner takes that stage."""
    stages = []
    for stage, rules in plan:
        role = stage.role
        if role is None:
            actor = request.get("actor")
            requester = actor.get("id") if type(actor) is dict else None
            role = (_manager(request, requester) if stage.who == MANAGER_OF_REQUESTER
                    else _budget_owner(request, requester))
            if role is None:
                errors.append(f"the approver `{stage.who}` cannot be found from the request")
                role = DEFAULT_ROLE
        stages.append({"kind": stage.kind, "role": role, "rules": rules, "approvers": APPROVERS[role]})
    return stages


def _answer(action: Any, decision: str, deciding: str, plan: Plan | None, matched: list[Rule],
            note: str | None, errors: list[str], request: dict[str, Any]) -> dict[str, Any]:
    stages = _stages(plan, request, errors) if plan else []
    reasons = [{"rule": deciding, "text": note}] if note else []
    reasons += [{"rule": r.id, "text": r.reason} for r in matched if r.id == deciding]
    reasons += [{"rule": r.id, "text": r.reason} for r in matched if r.id != deciding]
    reasons += [{"rule": "error", "text": e} for e in errors]
    role = next((s["role"] for s in stages if s["kind"] in WAITED_FOR), None)
    return {"action": action, "decision": decision, "rule": deciding, "role": role, "stages": stages,
            "reasons": reasons}


def _default(action: Any, why: str, matched: list[Rule], errors: list[str], request: dict[str, Any]) -> dict[str, Any]:
    return _answer(action, ESCALATE, "default", DEFAULT_PLAN, matched, why, errors, request)


def floor_decide(request: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The decision for request, at its `at` (or now when it has none)."""
    action = request.get("action")
    text = request.get("at")
    at = now if text is None else parse_moment(text, ZONE) if type(text) is str else None
    if at is None:
        return _default(action, "the request's time `at` cannot be read", [], [], request)
    entry = ACTIONS.get(action) if type(action) is str else None
    if entry is None:
        return _default(action, f"no policy governs action `{action}`", [], [], request)
    rules_of, _policy, owner, bar = entry
    errors: list[str] = []
    request = _in_currency(request, at, errors)
    attrs = request.get("attributes")
    matched = rules_of(request, attrs if type(attrs) is dict else {}, at, errors)
    automate: Rule | None = None
    escalations: list[Rule] = []
    for rule in matched:
        outcome = rule.outcome
        if outcome == DENY:
            return _answer(action, DENY, rule.id, None, matched, None, errors, request)
        if outcome == ESCALATE:
            escalations.append(rule)
        elif automate is None:
            automate = rule
    if escalations:  # every matched escalation applies; an error adds the default one
        if len(escalations) == 1 and not errors:
            plan = escalations[0].plan
        else:
            plan = _combine([(r.id, r.stages) for r in escalations] + ([(None, DEFAULT_STAGES)] if errors else []))
        return _answer(action, ESCALATE, escalations[0].id, plan, matched, None, errors, request)
    if errors:
        return _default(action, "an error made the outcome uncertain, so a person decides", matched, errors, request)
    if automate is None:
        return _default(action, "no rule covers this request", matched, errors, request)
    actor = request.get("actor")
    if not (type(actor) is dict and actor.get("kind") == "human" and actor.get("id") in ROLES_OF):
        confidence: Any = request.get("confidence")  # an agent, or anyone org.json does not know
        if not (type(confidence) in (int, float) and math.isfinite(confidence) and confidence >= bar):
            return _answer(action, ESCALATE, "confidence", OWNER_PLANS[owner], matched,
                           f"the agent's confidence is below {bar:g}, so the policy owner decides", errors, request)
    return _answer(action, AUTOMATE, automate.id, None, matched, None, errors, request)
