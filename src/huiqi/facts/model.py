"""Facts of one applicant-year: everything the clauses of a policy package read.

Each field's ``title`` is its Chinese label and ``description`` its English one;
the engine's explanations and the JSON Schema both use them. Every section is
optional: a clause whose facts are absent is simply not met, and says which fact
it missed. Unknown fields are refused, so a misspelt key never passes silently.

Every list is bounded (:data:`MAX_ITEMS`, ``maxItems`` in the JSON Schema): an applicant's
stores, warehouses, events, loans and talents of one year, and its award ledgers, are
tens at most in practice; the bounds are far above that and keep one request's work
finite (an evaluation with 50,000 stores is refused at once, not computed for seconds).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from huiqi.facts.types import Area, Count, CreditCode, Flag, ItemId, Money, Year, Years

FACTS_VERSION = "1"

#: The most items each list of the facts may hold (in one award year of one applicant).
MAX_ITEMS = {
    "stores": 200,
    "warehouses": 200,
    "events": 200,
    "loans": 500,
    "talents": 500,
    "earlier_awards": 2000,
    "other_policy_awards": 2000,
}


def label(zh: str, en: str, default: Any = None, **extra: Any) -> Any:
    """A field with its Chinese (title) and English (description) labels."""
    return Field(default=default, title=zh, description=en, **extra)


class _Facts(BaseModel):
    # validate_default: a default of 0 goes through the same validators, so it is a Decimal too.
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_enum_values=False, validate_default=True
    )

    @field_validator("*", mode="before")
    @classmethod
    def _text_only(cls, value: Any) -> Any:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("NUL characters are not allowed / 不允许包含空字符")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(
                        "a lone surrogate (U+D800–U+DFFF) is not text"
                        " / 含有孤立的代理码位（U+D800–U+DFFF），不是有效文本"
                    ) from None
        return value


class ApplicantKind(StrEnum):
    """Clause 1's kinds of beneficiary."""

    CBEC_ENTERPRISE = "cbec_enterprise"  # 跨境电子商务企业
    SERVICE_ENTERPRISE = "service_enterprise"  # 跨境电商配套服务企业
    PARK = "park"  # 园区（建设运营单位）
    PUBLIC_SERVICE_BODY = "public_service_body"  # 相关公共服务机构（组织）
    SUPPORT_INSTITUTION = "support_institution"  # 政府批准的支持机构


class Recognition(StrEnum):
    """Which level of commerce department recognised something."""

    NONE = "none"
    CITY = "city"
    PROVINCE = "province"
    MINISTRY = "ministry"


class StoreKind(StrEnum):
    O2O_EXPERIENCE = "o2o_experience"  # 跨境电子商务O2O线下体验店
    COMMUNITY = "community"  # 社区跨境电商O2O体验店


class EventKind(StrEnum):
    EXHIBITION = "exhibition"  # 展览
    DISPLAY = "display"  # 展示
    PUBLICITY = "publicity"  # 宣传
    SUMMIT = "summit"  # 行业峰会论坛
    RESEARCH = "research"  # 课题研究
    TRAINING = "training"  # 培训活动


class Applicant(_Facts):
    credit_code: CreditCode = label("统一社会信用代码", "unified social credit code", ...)
    name: str = label("单位名称", "name", ..., min_length=1, max_length=200)
    kind: ApplicantKind = label("主体类型", "kind of applicant", ...)
    registered_locally: Flag | None = label("在本市依法注册", "registered in the city")
    tax_paying_locally: Flag | None = label("在本市依法纳税", "pays tax in the city")
    independent_legal_person: Flag | None = label("具有独立法人资质", "independent legal person")
    in_customs_cbec_statistics: Flag | None = label(
        "纳入海关跨境贸易电商统计体系", "in customs' CBEC statistics"
    )
    tax_filing_division: str | None = label(
        "税收申报缴纳地（县市区/园区）", "tax-filing county or zone", max_length=100
    )
    platform_filed: Flag | None = label(
        "在综试区线上综合服务平台备案", "filed on the zone's online service platform"
    )
    platform_connected: Flag | None = label(
        "与综试区线上综合服务平台对接", "connected to the zone's online service platform"
    )
    platform_enterprise: Flag | None = label("跨境电子商务平台型企业", "CBEC platform enterprise")


class Trade(_Facts):
    export_usd: Money | None = label("跨境电商出口额（美元）", "CBEC export (USD)")
    import_usd: Money | None = label("跨境电商进口额（美元）", "CBEC import (USD)")
    export_cny: Money | None = label("跨境电商出口额（人民币）", "CBEC export (CNY)")
    import_cny: Money | None = label("跨境电商进口额（人民币）", "CBEC import (CNY)")

    @model_validator(mode="after")
    def _one_currency_per_flow(self) -> Trade:
        for flow in ("export", "import"):
            if (
                getattr(self, f"{flow}_usd") is not None
                and getattr(self, f"{flow}_cny") is not None
            ):
                raise ValueError(
                    f"{flow}: give USD or CNY, not both / {flow}：美元与人民币只能填写一种"
                )
        return self


class Park(_Facts):
    recognised_by: Recognition = label(
        "跨境电子商务产业园区认定部门", "park recognised by (commerce dept.)", Recognition.NONE
    )
    demonstration_base: Flag = label(
        "已被评定的省级电子商务示范基地", "provincial e-commerce demonstration base", False
    )
    new_cbec_tenants: Count | None = label(
        "当年新入驻有跨境电商业绩的企业数", "new tenants with CBEC trade this year"
    )
    new_tenants_cbec_total_usd: Money | None = label(
        "新入驻企业跨境电商进出口总额（美元）", "new tenants' CBEC import+export (USD)"
    )
    cbec_total_usd: Money | None = label(
        "园区跨境电商进出口总额（美元）", "whole park's CBEC import+export (USD)"
    )


class Tenancy(_Facts):
    park_recognised: Flag = label(
        "入驻的园区经认定或为省级电子商务示范基地",
        "the park is recognised or a provincial demonstration base",
        False,
    )
    moved_in_date: date | None = label("入驻日期", "date moved in")
    leased_area_m2: Area | None = label("实际租赁面积（平方米）", "leased area (m²)")
    first_year_rent_cny: Money | None = label(
        "入驻后首12个月租金（元）", "rent of the first 12 months (CNY)"
    )


class PlatformConstruction(_Facts):
    hardware_cny: Money = label("硬件购置费用（元）", "hardware (CNY)", 0)
    software_cny: Money = label("通用性软件购置费用（元）", "general software (CNY)", 0)
    development_cny: Money = label(
        "综合服务平台开发及维护费用（元）", "platform development and maintenance (CNY)", 0
    )
    infrastructure_cny: Money = label(
        "园区配套基础建设费用（元）", "park supporting infrastructure (CNY)", 0
    )


class PublicServicePlatform(_Facts):
    entered_date: date | None = label("入驻日期", "date entered")
    customs_certified: Flag = label(
        "通过海关特殊监管区域或场所认证",
        "certified for a customs special supervision area or site",
        False,
    )
    cbec_total_usd: Money | None = label(
        "平台当年跨境电商进出口总额（美元）", "platform's CBEC import+export this year (USD)"
    )


class SupervisionCentre(_Facts):
    investment_cny: Money = label(
        "监管中心当年投入费用（元）", "supervision centre investment this year (CNY)", 0
    )


class Marketplaces(_Facts):
    promotion_fees_cny: Money = label(
        "第三方交易平台年度推广费用（元）",
        "annual promotion fees on third-party platforms (CNY)",
        0,
    )
    new_store_annual_fees_cny: Money = label(
        "当年新注册店铺平台入驻年费（元）",
        "annual fees of stores newly registered this year (CNY)",
        0,
    )


class BeltAndRoad(_Facts):
    site_opened: Flag = label(
        "面向“一带一路”国家与地区开设子网站或独立页面",
        "sub-site or page opened for Belt and Road countries",
        False,
    )
    destination_turnover_usd: Money | None = label(
        "与目的地区年跨境电商成交额（美元）", "annual CBEC turnover with the destination (USD)"
    )


class Store(_Facts):
    id: ItemId = label("体验店编号", "store id", ...)
    kind: StoreKind = label("体验店类型", "kind of store", ...)
    located_locally: Flag = label("在本市建立", "located in the city", True)
    opened_date: date | None = label("开业日期", "date opened")
    area_m2: Area | None = label("营业面积（平方米）", "business area (m²)")


class DistributionCentre(_Facts):
    id: ItemId = label("分拨中心编号", "distribution centre id", ...)
    main_builder: Flag = label(
        "公共分拨中心的主体建设单位或企业", "main builder of the public distribution centre", False
    )


class OverseasWarehousePilot(_Facts):
    listed_by: Recognition = label(
        "列入公共海外仓建设试点的商务部门",
        "public overseas-warehouse pilot listed by",
        Recognition.NONE,
    )


class Warehouse(_Facts):
    id: ItemId = label("海外仓编号", "warehouse id", ...)
    area_m2: Area | None = label("租赁海外仓面积（平方米）", "leased area (m²)")
    rent_cny: Money | None = label("当年实际租赁费用（元）", "actual rent this year (CNY)")


class Logistics(_Facts):
    domestic_orders: Count | None = label("年度物流订单量（单）", "annual logistics orders")


class InternationalExpress(_Facts):
    general_trade_reward_cny: Money | None = label(
        "按一般贸易奖励政策核定的国际快件业务奖励（元）",
        "international express reward under the general-trade reward policy (CNY)",
    )


class Event(_Facts):
    id: ItemId = label("活动编号", "event id", ...)
    kind: EventKind = label("活动类型", "kind of event", ...)
    office_approval_ref: str | None = label(
        "领导小组办公室批准（同意）文号",
        "leading group office's approval reference",
        max_length=100,
    )
    participants: Count | None = label("活动规模（人）", "participants")
    held_date: date | None = label("举办日期", "date held")


class Loan(_Facts):
    id: ItemId = label("贷款编号", "loan id", ...)
    cross_border_financial_product: Flag = label(
        "在跨境电商交易中使用的跨境金融产品",
        "a cross-border financial product used in CBEC trade",
        False,
    )
    principal_cny: Money = label("贷款本金（元）", "principal (CNY)", ...)
    drawdown_date: date = label("放款日期", "drawdown date", ...)
    repaid_date: date | None = label("还款日期", "repayment date")
    interest_paid_cny: Money = label("当年实际支付利息（元）", "interest actually paid (CNY)", ...)

    @model_validator(mode="after")
    def _repaid_after_drawdown(self) -> Loan:
        if self.repaid_date is not None and self.repaid_date < self.drawdown_date:
            raise ValueError("repaid_date is before drawdown_date / 还款日期早于放款日期")
        return self


class StaffTraining(_Facts):
    costs_cny: Money = label("年度员工培训费用（元）", "annual staff training costs (CNY)", 0)


class TalentBase(_Facts):
    id: ItemId = label("人才培养输出基地编号", "talent base id", ...)
    recognised: Flag = label(
        "经市商务部门认定授牌", "recognised (授牌) by the city commerce department", False
    )
    construction_cny: Money = label("基地基础建设投入（元）", "construction investment (CNY)", 0)
    operating_cny: Money = label("实际运营投入（元）", "operating investment (CNY)", 0)


class Talent(_Facts):
    id: ItemId = label("人才编号", "talent id", ...)
    contract_years: Years | None = label("服务合同年限（年）", "service contract (years)")
    annual_salary_cny: Money | None = label("年薪（元）", "annual salary (CNY)")
    linyi_reward_cny: Money | None = label(
        "“林邑聚才”核定的个税减免或等额奖励（元）", "Linyi talent reward (CNY)"
    )


class EarlierAward(_Facts):
    """An award already approved under this policy (the award ledger)."""

    clause: str = label("条款", "clause", ..., min_length=1, max_length=16)
    subject_id: str | None = label(
        "对象编号（默认本单位）", "subject id (default: applicant)", max_length=64
    )
    award_year: Year = label("奖补年度", "award year", ...)
    amount_cny: Money = label("核定金额（元）", "approved amount (CNY)", ...)


class OtherPolicyAward(_Facts):
    """An award for the same subject under another local policy (从优不重复)."""

    policy: str = label("其他政策名称或文号", "other policy", ..., min_length=1, max_length=200)
    clause: str = label(
        "对应本政策条款", "clause of this policy it overlaps", ..., min_length=1, max_length=16
    )
    subject_id: str | None = label(
        "对象编号（默认本单位）", "subject id (default: applicant)", max_length=64
    )
    award_year: Year = label("奖补年度", "award year", ...)
    amount_cny: Money = label("已获金额（元）", "amount received (CNY)", ...)


class Facts(_Facts):
    """Everything known of one applicant in one award year."""

    facts_version: Literal["1"] = label("输入格式版本", "facts schema version", FACTS_VERSION)
    award_year: Year | None = label("奖补年度（数据所属年度）", "award year (year of the data)")
    applicant: Applicant = label("申报主体", "applicant", ...)
    trade: Trade = label("跨境电商进出口", "CBEC trade", Trade())
    park: Park | None = label("园区", "park")
    tenancy: Tenancy | None = label("入驻园区", "park tenancy")
    platform_construction: PlatformConstruction | None = label(
        "综试区平台及园区配套建设", "platform and park construction"
    )
    public_service_platform: PublicServicePlatform | None = label(
        "第三方公共服务平台", "third-party public service platform"
    )
    supervision_centre: SupervisionCentre | None = label("跨境电商监管中心", "supervision centre")
    marketplaces: Marketplaces | None = label("第三方交易平台", "third-party marketplaces")
    belt_and_road: BeltAndRoad | None = label("“一带一路”子网站", "Belt and Road sub-site")
    stores: list[Store] = label("O2O体验店", "O2O stores", [], max_length=MAX_ITEMS["stores"])
    distribution_centre: DistributionCentre | None = label(
        "公共分拨中心", "public distribution centre"
    )
    overseas_warehouse_pilot: OverseasWarehousePilot | None = label(
        "公共海外仓试点", "public overseas-warehouse pilot"
    )
    warehouses: list[Warehouse] = label(
        "租赁海外仓", "leased overseas warehouses", [], max_length=MAX_ITEMS["warehouses"]
    )
    logistics: Logistics | None = label("跨境电商物流", "CBEC logistics")
    international_express: InternationalExpress | None = label(
        "国际快件业务", "international express"
    )
    events: list[Event] = label(
        "展览、宣传、研究和培训活动", "events", [], max_length=MAX_ITEMS["events"]
    )
    loans: list[Loan] = label("贷款", "loans", [], max_length=MAX_ITEMS["loans"])
    staff_training: StaffTraining | None = label("员工在职培训", "staff training")
    talent_base: TalentBase | None = label("人才培养输出基地", "talent training base")
    talents: list[Talent] = label(
        "引进的高级人才", "senior talents", [], max_length=MAX_ITEMS["talents"]
    )
    earlier_awards: list[EarlierAward] = label(
        "本政策下已获奖补（台账）",
        "earlier awards under this policy (ledger)",
        [],
        max_length=MAX_ITEMS["earlier_awards"],
    )
    other_policy_awards: list[OtherPolicyAward] = label(
        "其他政策下同一事项已获奖补",
        "awards for the same subject under other policies",
        [],
        max_length=MAX_ITEMS["other_policy_awards"],
    )

    @model_validator(mode="after")
    def _item_ids_unique(self) -> Facts:
        for name in ("stores", "warehouses", "events", "loans", "talents"):
            seen: set[str] = set()
            for item in getattr(self, name):
                if item.id in seen:
                    raise ValueError(f"{name}: duplicate id {item.id!r} / {name}：编号重复")
                seen.add(item.id)
        return self


#: Chinese and English labels of every choice value, for explanations and forms.
CHOICE_LABELS: dict[str, tuple[str, str]] = {
    "cbec_enterprise": ("跨境电子商务企业", "CBEC enterprise"),
    "service_enterprise": ("跨境电商配套服务企业", "CBEC service enterprise"),
    "park": ("园区", "park"),
    "public_service_body": ("相关公共服务机构（组织）", "public service body"),
    "support_institution": ("政府批准的支持机构", "government-approved support institution"),
    "none": ("未认定", "none"),
    "city": ("市级商务部门", "city commerce department"),
    "province": ("省级商务部门", "provincial commerce department"),
    "ministry": ("商务部", "Ministry of Commerce"),
    "o2o_experience": ("跨境电子商务O2O线下体验店", "CBEC O2O experience store"),
    "community": ("社区跨境电商O2O体验店", "community CBEC O2O store"),
    "exhibition": ("展览", "exhibition"),
    "display": ("展示", "display"),
    "publicity": ("宣传", "publicity"),
    "summit": ("行业峰会论坛", "industry summit or forum"),
    "research": ("课题研究", "research"),
    "training": ("培训活动", "training event"),
}


def choice_label(value: str) -> dict[str, str]:
    zh, en = CHOICE_LABELS.get(value, (value, value))
    return {"zh": zh, "en": en}
