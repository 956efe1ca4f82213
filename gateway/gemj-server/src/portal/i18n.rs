//! The portal's words, in English and Japanese: one [`Texts`] per language (a missing
//! translation does not compile), the access decision's reason codes in words, and the
//! language a request is answered in (the `gemj_lang` cookie, else `Accept-Language`).

use actix_web::HttpRequest;

/// The cookie that keeps a chosen language.
pub const LANG_COOKIE: &str = "gemj_lang";

/// A language of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// The BCP 47 code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ja => "ja",
        }
    }

    /// Parses `en` or `ja`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Self::En),
            "ja" => Some(Self::Ja),
            _ => None,
        }
    }

    /// The words of this language.
    #[must_use]
    pub fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::Ja => &JA,
        }
    }

    /// The request's language: the cookie when set, else the first of `ja`/`en` in
    /// `Accept-Language` by weight, else English.
    #[must_use]
    pub fn of(req: &HttpRequest) -> Self {
        if let Some(lang) = req.cookie(LANG_COOKIE).and_then(|c| Self::parse(c.value())) {
            return lang;
        }
        let header = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut best: Option<(Self, f32)> = None;
        for part in header.split(',').take(32) {
            let mut pieces = part.trim().split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ja") => Self::Ja,
                Some("en") => Self::En,
                _ => continue,
            };
            if best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map_or(Self::En, |(l, _)| l)
    }
}

/// Every word the portal shows, in one language.
#[derive(Debug)]
pub struct Texts {
    pub app: &'static str,
    pub skip: &'static str,
    pub nav_main: &'static str,
    pub nav_lang: &'static str,
    pub footer: &'static str,
    pub home: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub intro: &'static str,
    pub intro_signed_out: &'static str,
    pub role_researcher: &'static str,
    pub role_committee: &'static str,
    pub role_coordinator: &'static str,
    pub datasets: &'static str,
    pub datasets_intro: &'static str,
    pub dataset: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub access_level: &'static str,
    pub data_use: &'static str,
    pub restrictions: &'static str,
    pub countries: &'static str,
    pub institutions: &'static str,
    pub projects: &'static str,
    pub disease: &'static str,
    pub counts_title: &'static str,
    pub counts_by_sex: &'static str,
    pub counts_by_age: &'static str,
    pub counts_x: &'static str,
    pub counts_y: &'static str,
    pub withheld: &'static str,
    pub no_data: &'static str,
    pub your_access: &'static str,
    pub check_access: &'static str,
    pub access_permitted: &'static str,
    pub access_denied: &'static str,
    pub participants_served: &'static str,
    pub why: &'static str,
    pub duo_terms: &'static str,
    pub apply: &'static str,
    pub apply_intro: &'static str,
    pub purpose: &'static str,
    pub project: &'static str,
    pub institution: &'static str,
    pub diseases: &'static str,
    pub diseases_hint: &'static str,
    pub country: &'static str,
    pub for_profit: &'static str,
    pub submit_application: &'static str,
    pub application_submitted: &'static str,
    pub application: &'static str,
    pub beacon: &'static str,
    pub beacon_intro: &'static str,
    pub chromosome: &'static str,
    pub start: &'static str,
    pub end: &'static str,
    pub reference_bases: &'static str,
    pub alternate_bases: &'static str,
    pub filters: &'static str,
    pub filters_hint: &'static str,
    pub search: &'static str,
    pub results: &'static str,
    pub exists_yes: &'static str,
    pub exists_no: &'static str,
    pub granularity: &'static str,
    pub count: &'static str,
    pub frequency_title: &'static str,
    pub frequency_x: &'static str,
    pub frequency_y: &'static str,
    pub my_page: &'static str,
    pub my_approvals: &'static str,
    pub my_applications: &'static str,
    pub my_history: &'static str,
    pub none_yet: &'static str,
    pub approval: &'static str,
    pub status: &'static str,
    pub valid_until: &'static str,
    pub submitted: &'static str,
    pub decision: &'static str,
    pub pending: &'static str,
    pub approved: &'static str,
    pub rejected: &'static str,
    pub when: &'static str,
    pub api: &'static str,
    pub action: &'static str,
    pub resource: &'static str,
    pub permit: &'static str,
    pub deny: &'static str,
    pub reasons: &'static str,
    pub accesses_title: &'static str,
    pub accesses_x: &'static str,
    pub accesses_y: &'static str,
    pub committee: &'static str,
    pub committee_intro: &'static str,
    pub pending_applications: &'static str,
    pub researcher: &'static str,
    pub reason: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub valid_days: &'static str,
    pub approvals: &'static str,
    pub change_status: &'static str,
    pub status_active: &'static str,
    pub status_suspended: &'static str,
    pub status_revoked: &'static str,
    pub history: &'static str,
    pub flash_approved: &'static str,
    pub flash_rejected: &'static str,
    pub flash_status: &'static str,
    pub flash_withdrawn: &'static str,
    pub flash_outcome: &'static str,
    pub institution_page: &'static str,
    pub inbox: &'static str,
    pub inbox_empty: &'static str,
    pub request: &'static str,
    pub participant: &'static str,
    pub participants: &'static str,
    pub kind: &'static str,
    pub report_outcome: &'static str,
    pub outcome_contacted: &'static str,
    pub outcome_declined: &'static str,
    pub outcome_agreed: &'static str,
    pub consent_state: &'static str,
    pub consent_history: &'static str,
    pub consent_none: &'static str,
    pub event: &'static str,
    pub access_report: &'static str,
    pub access_report_intro: &'static str,
    pub who: &'static str,
    pub under_approval: &'static str,
    pub records: &'static str,
    pub withdraw: &'static str,
    pub withdraw_intro: &'static str,
    pub withdrawal_level: &'static str,
    pub withdraw_confirm_title: &'static str,
    pub withdraw_confirm_text: &'static str,
    pub withdraw_confirm: &'static str,
    pub cancel: &'static str,
    pub participant_accesses_title: &'static str,
    pub error_title: &'static str,
    pub error_not_signed_in: &'static str,
    pub error_forbidden: &'static str,
    pub error_not_found: &'static str,
    pub error_bad_request: &'static str,
    pub error_csrf: &'static str,
    pub error_unavailable: &'static str,
    pub error_sign_in_failed: &'static str,
    pub back_home: &'static str,
    pub broker_title: &'static str,
    pub broker_intro: &'static str,
    pub broker_choose: &'static str,
    pub broker_refused: &'static str,
    pub next_page: &'static str,
}

/// English.
pub static EN: Texts = Texts {
    app: "GeMJ data portal",
    skip: "Skip to the content",
    nav_main: "Main",
    nav_lang: "Language",
    footer: "Genomic Medicine Japan gateway. Every page is decided and audited like any API call.",
    home: "Home",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    intro: "Choose a task from the menu.",
    intro_signed_out: "Researchers, the data-use committee and hospital coordinators sign in through their passport broker. Anyone may browse the catalogue at the public level.",
    role_researcher: "researcher",
    role_committee: "committee",
    role_coordinator: "coordinator",
    datasets: "Datasets",
    datasets_intro: "The datasets you may see, with the conditions of their use.",
    dataset: "Dataset",
    name: "Name",
    description: "Description",
    access_level: "Access level",
    data_use: "Data-use conditions",
    restrictions: "Restrictions",
    countries: "Countries",
    institutions: "Institutions",
    projects: "Projects",
    disease: "Disease",
    counts_title: "Participants by dataset",
    counts_by_sex: "Participants by dataset and sex",
    counts_by_age: "Participants by dataset and age band",
    counts_x: "Participants",
    counts_y: "Dataset",
    withheld: "withheld (small count)",
    no_data: "Nothing to show.",
    your_access: "Your access to the data",
    check_access: "Check my access",
    access_permitted: "You may read this dataset's data.",
    access_denied: "You may not read this dataset's data.",
    participants_served: "Participants you would be served",
    why: "Why",
    duo_terms: "How each data-use term was decided",
    apply: "Apply for access",
    apply_intro: "The data-use committee reviews your application. Describe the project and its purpose.",
    purpose: "Purpose",
    project: "Project",
    institution: "Institution",
    diseases: "Diseases studied",
    diseases_hint: "ICD-10 codes separated by commas, for disease-specific research (for example C16.9).",
    country: "Country of processing",
    for_profit: "The use is for profit",
    submit_application: "Submit the application",
    application_submitted: "Your application was submitted.",
    application: "Application",
    beacon: "Variant search",
    beacon_intro: "Ask whether variants exist in a region, at the level of detail your passport allows (Beacon v2).",
    chromosome: "Chromosome",
    start: "Start (1-based)",
    end: "End",
    reference_bases: "Reference bases (optional)",
    alternate_bases: "Alternate bases (optional)",
    filters: "Filters (optional)",
    filters_hint: "Ontology terms separated by commas: NCIT:C16576 (female), NCIT:C20197 (male), ICD10:C16 (stomach cancer), HP:0000118 (any phenotypic abnormality).",
    search: "Search",
    results: "Results",
    exists_yes: "Variants exist.",
    exists_no: "No variant found.",
    granularity: "Level of detail",
    count: "Count",
    frequency_title: "Variants along the region",
    frequency_x: "Position",
    frequency_y: "Variants",
    my_page: "My access",
    my_approvals: "My approvals",
    my_applications: "My applications",
    my_history: "My access history",
    none_yet: "None yet.",
    approval: "Approval",
    status: "Status",
    valid_until: "Valid until",
    submitted: "Submitted",
    decision: "Decision",
    pending: "pending",
    approved: "approved",
    rejected: "rejected",
    when: "When",
    api: "API",
    action: "Action",
    resource: "Resource",
    permit: "permitted",
    deny: "denied",
    reasons: "Reasons",
    accesses_title: "Requests per day",
    accesses_x: "Day",
    accesses_y: "Requests",
    committee: "Data-use committee",
    committee_intro: "Applications awaiting a decision and the approvals in force. Every change is audited and takes effect at once on every API.",
    pending_applications: "Pending applications",
    researcher: "Researcher",
    reason: "Reason",
    approve: "Approve",
    reject: "Reject",
    valid_days: "Valid for (days)",
    approvals: "Approvals",
    change_status: "Change status",
    status_active: "active",
    status_suspended: "suspended",
    status_revoked: "revoked",
    history: "History",
    flash_approved: "The application was approved; the approval is in force now.",
    flash_rejected: "The application was rejected.",
    flash_status: "The approval's status was changed; it is in force now.",
    flash_withdrawn: "The withdrawal was recorded; the participant's data is no longer served by any API.",
    flash_outcome: "The outcome was recorded.",
    institution_page: "Hospital",
    inbox: "Recontact inbox",
    inbox_empty: "No recontact request is waiting.",
    request: "Request",
    participant: "Participant",
    participants: "Participants",
    kind: "Kind",
    report_outcome: "Record the outcome",
    outcome_contacted: "contacted",
    outcome_declined: "declined",
    outcome_agreed: "agreed",
    consent_state: "Consent",
    consent_history: "Consent history",
    consent_none: "No consent event received.",
    event: "Event",
    access_report: "Who accessed this participant's data",
    access_report_intro: "Every request that touched this participant, with the approval it was permitted under.",
    who: "Who",
    under_approval: "Approval",
    records: "Records",
    withdraw: "Withdraw consent",
    withdraw_intro: "Record that the participant withdrew consent. A full withdrawal (stop_all_use) makes their data disappear from every API at once; a partial one stops third-party provision or contact.",
    withdrawal_level: "How far the withdrawal goes",
    withdraw_confirm_title: "Confirm the withdrawal",
    withdraw_confirm_text: "The participant's data will no longer be served by any API. This is recorded in the consent log and cannot be undone by this page.",
    withdraw_confirm: "Yes, record the withdrawal",
    cancel: "Cancel",
    participant_accesses_title: "Accesses to this participant per day",
    error_title: "This page cannot be shown",
    error_not_signed_in: "Please sign in to see this page.",
    error_forbidden: "Your account may not use this page.",
    error_not_found: "There is no such page or record, or you may not see it.",
    error_bad_request: "The form could not be accepted",
    error_csrf: "The form expired or did not come from this portal. Please try again.",
    error_unavailable: "The service is temporarily unavailable. Please try again shortly.",
    error_sign_in_failed: "Signing in failed. Please try again.",
    back_home: "Back to the portal",
    broker_title: "Demo broker: sign in",
    broker_intro: "This is the demo's passport broker. Its people are synthetic: choose who to sign in as. There is no password.",
    broker_choose: "Sign in as",
    broker_refused: "The sign-in request was refused",
    next_page: "Next page",
};

/// Japanese.
pub static JA: Texts = Texts {
    app: "GeMJ データポータル",
    skip: "本文へ移動",
    nav_main: "メインメニュー",
    nav_lang: "言語",
    footer: "ゲノム医療ジャパン ゲートウェイ。すべてのページは API と同じくアクセス判定され、監査記録に残ります。",
    home: "ホーム",
    sign_in: "ログイン",
    sign_out: "ログアウト",
    signed_in_as: "ログイン中:",
    intro: "メニューから作業を選んでください。",
    intro_signed_out: "研究者、データ利用審査委員会、医療機関のコーディネーターは、パスポートブローカーからログインします。公開レベルのカタログは誰でも閲覧できます。",
    role_researcher: "研究者",
    role_committee: "審査委員会",
    role_coordinator: "コーディネーター",
    datasets: "データセット",
    datasets_intro: "閲覧できるデータセットと、その利用条件です。",
    dataset: "データセット",
    name: "名称",
    description: "説明",
    access_level: "アクセスレベル",
    data_use: "データ利用条件",
    restrictions: "制限",
    countries: "国",
    institutions: "機関",
    projects: "プロジェクト",
    disease: "疾患",
    counts_title: "データセット別の参加者数",
    counts_by_sex: "データセット・性別ごとの参加者数",
    counts_by_age: "データセット・年齢階級ごとの参加者数",
    counts_x: "参加者数",
    counts_y: "データセット",
    withheld: "非表示(少数のため)",
    no_data: "表示するデータはありません。",
    your_access: "データへのアクセス",
    check_access: "アクセスを確認",
    access_permitted: "このデータセットのデータを利用できます。",
    access_denied: "このデータセットのデータは利用できません。",
    participants_served: "提供対象の参加者数",
    why: "理由",
    duo_terms: "データ利用条件の各項目の判定",
    apply: "利用申請",
    apply_intro: "データ利用審査委員会が申請を審査します。研究計画と目的を記入してください。",
    purpose: "目的",
    project: "研究計画",
    institution: "所属機関",
    diseases: "対象疾患",
    diseases_hint: "疾患特異的研究の場合、ICD-10 コードをカンマ区切りで入力(例: C16.9)。",
    country: "データ処理国",
    for_profit: "営利目的の利用",
    submit_application: "申請を送信",
    application_submitted: "申請を受け付けました。",
    application: "申請",
    beacon: "バリアント検索",
    beacon_intro: "領域内にバリアントが存在するかを、パスポートで許される詳しさで検索します(Beacon v2)。",
    chromosome: "染色体",
    start: "開始位置(1始まり)",
    end: "終了位置",
    reference_bases: "参照塩基(任意)",
    alternate_bases: "代替塩基(任意)",
    filters: "絞り込み(任意)",
    filters_hint: "オントロジー用語をカンマ区切りで: NCIT:C16576(女性)、NCIT:C20197(男性)、ICD10:C16(胃癌)、HP:0000118(何らかの表現型異常)。",
    search: "検索",
    results: "結果",
    exists_yes: "バリアントが存在します。",
    exists_no: "バリアントは見つかりませんでした。",
    granularity: "詳しさ",
    count: "件数",
    frequency_title: "領域内のバリアント分布",
    frequency_x: "位置",
    frequency_y: "バリアント数",
    my_page: "マイアクセス",
    my_approvals: "承認一覧",
    my_applications: "申請一覧",
    my_history: "アクセス履歴",
    none_yet: "まだありません。",
    approval: "承認",
    status: "状態",
    valid_until: "有効期限",
    submitted: "申請日時",
    decision: "決定",
    pending: "審査中",
    approved: "承認",
    rejected: "却下",
    when: "日時",
    api: "API",
    action: "操作",
    resource: "対象",
    permit: "許可",
    deny: "拒否",
    reasons: "理由",
    accesses_title: "日別のリクエスト数",
    accesses_x: "日付",
    accesses_y: "リクエスト数",
    committee: "データ利用審査委員会",
    committee_intro: "審査待ちの申請と有効な承認です。変更はすべて監査記録に残り、すべての API に即時に反映されます。",
    pending_applications: "審査待ちの申請",
    researcher: "研究者",
    reason: "理由",
    approve: "承認する",
    reject: "却下する",
    valid_days: "有効日数",
    approvals: "承認",
    change_status: "状態を変更",
    status_active: "有効",
    status_suspended: "一時停止",
    status_revoked: "取消",
    history: "履歴",
    flash_approved: "申請を承認しました。承認は直ちに有効です。",
    flash_rejected: "申請を却下しました。",
    flash_status: "承認の状態を変更しました。直ちに反映されます。",
    flash_withdrawn: "同意撤回を記録しました。この参加者のデータはどの API からも提供されません。",
    flash_outcome: "結果を記録しました。",
    institution_page: "医療機関",
    inbox: "再連絡の依頼",
    inbox_empty: "待機中の再連絡依頼はありません。",
    request: "依頼",
    participant: "参加者",
    participants: "参加者一覧",
    kind: "種類",
    report_outcome: "結果を記録",
    outcome_contacted: "連絡済み",
    outcome_declined: "辞退",
    outcome_agreed: "同意",
    consent_state: "同意状況",
    consent_history: "同意の履歴",
    consent_none: "同意イベントはまだありません。",
    event: "イベント",
    access_report: "この参加者のデータへのアクセス",
    access_report_intro: "この参加者に関わったすべてのリクエストと、その根拠となった承認です。",
    who: "誰が",
    under_approval: "承認",
    records: "件数",
    withdraw: "同意撤回を記録",
    withdraw_intro: "参加者の同意撤回を記録します。全面撤回(stop_all_use)ではデータが直ちにすべての API から消え、部分撤回では第三者提供または連絡が停止します。",
    withdrawal_level: "撤回の範囲",
    withdraw_confirm_title: "同意撤回の確認",
    withdraw_confirm_text: "この参加者のデータはどの API からも提供されなくなります。同意ログに記録され、このページからは取り消せません。",
    withdraw_confirm: "はい、同意撤回を記録します",
    cancel: "キャンセル",
    participant_accesses_title: "この参加者への日別アクセス数",
    error_title: "このページは表示できません",
    error_not_signed_in: "このページを見るにはログインしてください。",
    error_forbidden: "このアカウントではこのページを利用できません。",
    error_not_found: "該当するページや記録がないか、閲覧が許可されていません。",
    error_bad_request: "入力を受け付けられませんでした",
    error_csrf: "フォームの有効期限が切れたか、このポータルからの送信ではありません。もう一度お試しください。",
    error_unavailable: "一時的に利用できません。しばらくしてからお試しください。",
    error_sign_in_failed: "ログインに失敗しました。もう一度お試しください。",
    back_home: "ポータルに戻る",
    broker_title: "デモ用ブローカー: ログイン",
    broker_intro: "デモ用のパスポートブローカーです。登場人物はすべて架空です。ログインする人物を選んでください。パスワードはありません。",
    broker_choose: "ログインする人物",
    broker_refused: "ログイン要求は拒否されました",
    next_page: "次のページ",
};

/// A reason code of the access decision in words.
#[must_use]
pub fn reason(lang: Lang, code: &str) -> String {
    let (en, ja) = match code {
        "anonymous_not_permitted" | "data_access_requires_credential" => {
            ("You are not signed in.", "ログインしていません。")
        }
        "no_registered_visa" => (
            "Your passport holds no registered-access Visa (ResearcherStatus, accepted terms or a recognised role).",
            "パスポートに登録アクセス用のビザ(研究者ステータス、利用規約への同意、認められた役割)がありません。",
        ),
        "no_grant_visa" => (
            "Your passport holds no ControlledAccessGrants Visa for this dataset.",
            "パスポートにこのデータセットの ControlledAccessGrants ビザがありません。",
        ),
        "grant_asserted_too_old" => (
            "Your grant for this dataset was asserted too long ago; ask your broker for a fresh one.",
            "このデータセットの許可ビザが古すぎます。ブローカーから新しいビザを取得してください。",
        ),
        "no_approval" => (
            "The data-use committee has not approved you for this dataset.",
            "データ利用審査委員会によるこのデータセットの承認がありません。",
        ),
        "approval_revoked" => (
            "Your approval for this dataset was revoked.",
            "このデータセットの承認は取り消されました。",
        ),
        "approval_suspended" => (
            "Your approval for this dataset is suspended.",
            "このデータセットの承認は一時停止中です。",
        ),
        "approval_not_in_period" => (
            "Your approval is outside its valid period.",
            "承認の有効期間外です。",
        ),
        "duo_denied" => (
            "The dataset's data-use conditions do not allow your approved purpose.",
            "データセットの利用条件が、承認された目的を認めていません。",
        ),
        "duo_committee_required" => (
            "A data-use term cannot be decided automatically: the committee must decide.",
            "利用条件の一部は自動判定できないため、審査委員会の判断が必要です。",
        ),
        "duo_ontology_unavailable" => (
            "The Data Use Ontology is not loaded, so controlled access cannot be decided.",
            "データ利用オントロジーが読み込まれていないため、制限アクセスを判定できません。",
        ),
        "not_administrator" => (
            "Only the data-use committee may do this.",
            "この操作はデータ利用審査委員会のみが行えます。",
        ),
        "institution_credential_required" => (
            "Only a hospital's coordinator may do this.",
            "この操作は医療機関のコーディネーターのみが行えます。",
        ),
        "analysis_only" => (
            "This dataset may only be analysed where it is held (through a workflow run), not downloaded.",
            "このデータセットは保管場所での解析(ワークフロー実行)のみ可能で、ダウンロードできません。",
        ),
        "registered_researcher_status" => ("You are a registered researcher.", "登録研究者です。"),
        "controlled_grant_approval_and_duo" => (
            "You hold a grant, an approval in force and a matching purpose.",
            "許可ビザ、有効な承認、条件に合う目的がそろっています。",
        ),
        "public_data" | "public_metadata" => ("The dataset is public.", "公開データセットです。"),
        "own_audit_trail" => ("Your own records.", "ご自身の記録です。"),
        "discovery_public" => (
            "Discovery at the public level (yes or no).",
            "公開レベルの検索(有無のみ)。",
        ),
        "discovery_registered" => (
            "Discovery at the registered level (counts).",
            "登録レベルの検索(件数)。",
        ),
        "discovery_controlled" => (
            "Discovery at the controlled level (records).",
            "制限レベルの検索(レコード)。",
        ),
        "owning_institution" => (
            "The hospital that enrolled the participant.",
            "参加者を登録した医療機関です。",
        ),
        "administrator" => ("The data-use committee.", "データ利用審査委員会です。"),
        _ => ("", ""),
    };
    let text = match lang {
        Lang::En => en,
        Lang::Ja => ja,
    };
    if text.is_empty() {
        code.replace('_', " ")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_heaviest_known_language() {
        let req = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header((actix_web::http::header::ACCEPT_LANGUAGE, v))
                .to_http_request()
        };
        assert_eq!(Lang::of(&req("ja-JP,ja;q=0.9,en;q=0.8")), Lang::Ja);
        assert_eq!(Lang::of(&req("en-US,en;q=0.9,ja;q=0.5")), Lang::En);
        assert_eq!(Lang::of(&req("fr;q=1,ja;q=0.2")), Lang::Ja);
        assert_eq!(Lang::of(&req("de")), Lang::En);
        assert_eq!(Lang::of(&req("")), Lang::En);
    }

    #[test]
    fn reasons_read_as_words_in_both_languages_and_unknown_codes_stay_readable() {
        assert!(reason(Lang::En, "no_approval").contains("committee"));
        assert!(reason(Lang::Ja, "no_approval").contains("審査委員会"));
        assert_eq!(reason(Lang::En, "something_new"), "something new");
    }
}
