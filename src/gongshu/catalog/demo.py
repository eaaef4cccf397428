"""示例市 catalog: ~60 realistic resources, two releases, a review queue, and (with
``--scale``) a generated large catalog of ~6,700 resources / ~120,000 items."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.auth.models import User
from gongshu.auth.principal import Principal
from gongshu.catalog import releases, service
from gongshu.catalog.models import Resource
from gongshu.catalog.rules import check_resource, org_prefixes
from gongshu.catalog.schemas import ItemIn, ReleaseCreate, ResourceIn
from gongshu.catalog.vocab import catalog_settings
from gongshu.demo import DemoContext
from gongshu.orgs.models import Org, System

# Item blocks: "名称:column:类型:长度:数据元:flags"; flags K = key, S<rule> = sensitive+mask.
PERSON = [
    "姓名:xm:字符串:50:姓名:Sname",
    "公民身份号码:gmsfhm:字符串:18:公民身份号码:K,Sid_number",
    "性别:xb:字符串:1:性别代码:",
    "出生日期:csrq:日期::出生日期:",
]
ENTERPRISE = [
    "统一社会信用代码:tyshxydm:字符串:18:统一社会信用代码:K",
    "企业名称:qymc:字符串:200:组织机构名称:",
    "法定代表人:fddbr:字符串:50:法定代表人姓名:Sname",
]
PHONE = ["联系电话:lxdh:字符串:20:手机号码:Sphone"]
ADDRESS = ["住址:zz:字符串:200:地址:Saddress"]
REGION = ["行政区划代码:xzqhdm:字符串:6:行政区划代码:"]
STAMP = ["更新时间:gxsj:日期时间::日期时间:"]

COND = "仅限政务服务、监管执法等法定职责使用，按最小必要原则申请并经提供部门同意"
BASIS = "《中华人民共和国个人信息保护法》《中华人民共和国数据安全法》及部门保密规定"
RESTRICT = "面向经审核的科研机构和企业，签订数据使用协议后提供脱敏数据"
NOPEN = "涉及个人信息或商业秘密，不向社会开放"

# org, name, domain, class, cycle, share, open, grade, system index, summary, items
R = tuple[str, str, str, str, str, str, str, str, int | None, str, list[str]]
RESOURCES: list[R] = [
    (
        "GAJ",
        "人口基本信息",
        "公共安全",
        "基础",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "全市户籍人口和常住人口的身份、户籍与住址等基本信息，是人口库的核心来源",
        [
            *PERSON,
            "民族:mz:字符串:2:民族代码:",
            "户籍地址:hjdz:字符串:200:地址:Saddress",
            "户籍地行政区划:hjdqh:字符串:6:行政区划代码:",
            "婚姻状况:hyzk:字符串:2:婚姻状况代码:",
            "文化程度:whcd:字符串:2::",
            *STAMP,
        ],
    ),
    (
        "GAJ",
        "户籍迁移登记信息",
        "公共安全",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "户口迁入、迁出、户籍注销等登记记录",
        [
            *PERSON[:2],
            "迁移类型:qylx:字符串:2::",
            "迁出地:qcd:字符串:200:地址:",
            "迁入地:qrd:字符串:200:地址:",
            "迁移日期:qyrq:日期::日期:",
        ],
    ),
    (
        "GAJ",
        "居住证办理信息",
        "公共安全",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "流动人口居住证申领、签注和有效期信息",
        [
            *PERSON[:2],
            "居住证号:jzzh:字符串:30::K",
            "居住地址:jzdz:字符串:200:地址:Saddress",
            "签发日期:qfrq:日期::日期:",
            "有效期至:yxqz:日期::日期:",
        ],
    ),
    (
        "GAJ",
        "机动车登记信息",
        "交通运输",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        1,
        "机动车注册、转移、抵押和注销登记信息",
        [
            "号牌号码:hphm:字符串:15:车牌号码:K",
            "号牌种类:hpzl:字符串:2::",
            "车辆类型:cllx:字符串:4::",
            "所有人:syr:字符串:100:姓名:Sname",
            "注册日期:zcrq:日期::日期:",
            "车辆状态:clzt:字符串:2::",
        ],
    ),
    (
        "GAJ",
        "驾驶证信息",
        "交通运输",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        1,
        "机动车驾驶证申领、准驾车型和记分状态",
        [
            *PERSON[:2],
            "准驾车型:zjcx:字符串:10::",
            "初次领证日期:cclzrq:日期::日期:",
            "累积记分:ljjf:整数:::",
            "驾驶证状态:jszzt:字符串:2::",
        ],
    ),
    (
        "GAJ",
        "交通违法处理信息",
        "交通运输",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L2",
        1,
        "道路交通违法行为的记录与处理结果",
        [
            "违法编号:wfbh:字符串:30::K",
            "号牌号码:hphm:字符串:15:车牌号码:",
            "违法时间:wfsj:日期时间::日期时间:",
            "违法地点:wfdd:字符串:200:地址:",
            "违法行为:wfxw:字符串:200::",
            "罚款金额:fkje:小数:12:金额:",
            "处理状态:clzt:字符串:2::",
        ],
    ),
    (
        "SCJGJ",
        "法人基本信息",
        "信用服务",
        "基础",
        "实时",
        "无条件共享",
        "受限开放",
        "L2",
        0,
        "全市企业、个体工商户等市场主体的登记基本信息，是法人库的核心来源",
        [
            *ENTERPRISE,
            "市场主体类型:sczlx:字符串:4::",
            "注册资本:zczb:小数:18:金额:",
            "成立日期:clrq:日期::日期:",
            "住所:zs:字符串:200:地址:",
            "经营范围:jyfw:长文本:::",
            "登记状态:djzt:字符串:2::",
            *REGION,
        ],
    ),
    (
        "SCJGJ",
        "营业执照信息",
        "信用服务",
        "部门",
        "实时",
        "无条件共享",
        "受限开放",
        "L2",
        0,
        "营业执照核发、换发与电子营业执照信息",
        [
            *ENTERPRISE[:2],
            "执照编号:zzbh:字符串:30:证照编号:K",
            "核准日期:hzrq:日期::日期:",
            "营业期限至:yyqxz:日期::日期:",
            "登记机关:djjg:字符串:100::",
        ],
    ),
    (
        "SCJGJ",
        "行政处罚信息",
        "信用服务",
        "部门",
        "每日",
        "无条件共享",
        "无条件开放",
        "L1",
        1,
        "市场监管领域行政处罚决定公示信息",
        [
            "处罚决定书文号:cfjdswh:字符串:100::K",
            "统一社会信用代码:tyshxydm:字符串:18:统一社会信用代码:",
            "当事人名称:dsrmc:字符串:200:组织机构名称:",
            "违法行为类型:wfxwlx:字符串:200::",
            "处罚内容:cfnr:长文本:::",
            "罚没金额:fmje:小数:18:金额:",
            "处罚决定日期:cfjdrq:日期::日期:",
        ],
    ),
    (
        "SCJGJ",
        "食品经营许可信息",
        "医疗卫生",
        "部门",
        "每日",
        "无条件共享",
        "无条件开放",
        "L1",
        1,
        "食品经营许可证核发、变更与注销信息",
        [
            "许可证编号:xkzbh:字符串:30:证照编号:K",
            *ENTERPRISE[:2],
            "经营场所:jycs:字符串:200:地址:",
            "经营项目:jyxm:长文本:::",
            "有效期至:yxqz:日期::日期:",
        ],
    ),
    (
        "SCJGJ",
        "企业年报信息",
        "经济建设",
        "部门",
        "每年",
        "无条件共享",
        "受限开放",
        "L2",
        0,
        "企业年度报告中的从业人数、资产和经营状况",
        [
            *ENTERPRISE[:2],
            "年报年度:nbnd:整数:::",
            "从业人数:cyrs:整数:::",
            "资产总额:zcze:小数:18:金额:",
            "营业总收入:yyzsr:小数:18:金额:",
        ],
    ),
    (
        "SCJGJ",
        "特种设备登记信息",
        "公共安全",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L2",
        1,
        "电梯、锅炉、压力容器等特种设备使用登记",
        [
            "设备代码:sbdm:字符串:30::K",
            "设备类别:sblb:字符串:20::",
            "使用单位:sydw:字符串:200:组织机构名称:",
            "安装地址:azdz:字符串:200:地址:",
            "下次检验日期:xcjyrq:日期::日期:",
        ],
    ),
    (
        "RSJ",
        "社会保险参保信息",
        "社会保障",
        "基础",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "职工与城乡居民养老、医疗、失业、工伤、生育保险参保登记",
        [
            *PERSON[:2],
            "险种类型:xzlx:字符串:3::",
            "参保状态:cbzt:字符串:2::",
            "参保日期:cbrq:日期::日期:",
            "单位统一社会信用代码:dwtyshxydm:字符串:18:统一社会信用代码:",
            "缴费基数:jfjs:小数:12:金额:Shash",
        ],
    ),
    (
        "RSJ",
        "社会保险缴费信息",
        "社会保障",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "个人和单位社会保险月度缴费记录",
        [
            *PERSON[:2],
            "费款所属期:fkssq:字符串:6::",
            "险种类型:xzlx:字符串:3::",
            "缴费金额:jfje:小数:12:金额:Shash",
            "到账日期:dzrq:日期::日期:",
        ],
    ),
    (
        "RSJ",
        "养老金发放信息",
        "社会保障",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "企业职工和城乡居民养老金按月发放记录",
        [
            *PERSON[:2],
            "发放年月:ffny:字符串:6::",
            "发放金额:ffje:小数:12:金额:Shash",
            "发放银行:ffyh:字符串:100::",
        ],
    ),
    (
        "RSJ",
        "就业登记信息",
        "社会保障",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L2",
        1,
        "劳动者就业、失业登记及就业困难人员认定",
        [
            *PERSON[:2],
            "登记类型:djlx:字符串:2::",
            "就业单位:jydw:字符串:200:组织机构名称:",
            "登记日期:djrq:日期::日期:",
        ],
    ),
    (
        "RSJ",
        "职业技能等级证书信息",
        "教育文化",
        "部门",
        "每月",
        "无条件共享",
        "受限开放",
        "L2",
        1,
        "职业技能等级认定与证书发放信息",
        [
            *PERSON[:2],
            "证书编号:zsbh:字符串:40:证照编号:K",
            "职业名称:zymc:字符串:100::",
            "技能等级:jndj:字符串:10::",
            "发证日期:fzrq:日期::日期:",
        ],
    ),
    (
        "ZRZYJ",
        "不动产登记信息",
        "城建住房",
        "基础",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "不动产首次、转移、变更、抵押登记及权利人信息",
        [
            "不动产单元号:bdcdyh:字符串:28:不动产单元号:K",
            "不动产权证号:bdcqzh:字符串:60:证照编号:",
            "权利人:qlr:字符串:200:姓名:Sname",
            "权利人证件号:qlrzjh:字符串:18:公民身份号码:Sid_number",
            "坐落:zl:字符串:200:地址:",
            "建筑面积:jzmj:小数:12::",
            "登记类型:djlx:字符串:4::",
            "登记日期:djrq:日期::日期:",
        ],
    ),
    (
        "ZRZYJ",
        "不动产抵押登记信息",
        "财税金融",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "不动产抵押权设立、变更与注销登记",
        [
            "不动产单元号:bdcdyh:字符串:28:不动产单元号:K",
            "抵押权人:dyqr:字符串:200:组织机构名称:",
            "抵押人:dyr:字符串:200:姓名:Sname",
            "被担保债权数额:bdbzqse:小数:18:金额:",
            "抵押期限至:dyqxz:日期::日期:",
        ],
    ),
    (
        "ZRZYJ",
        "国有建设用地供应信息",
        "资源环境",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "国有建设用地出让、划拨供应结果公示",
        [
            "宗地编号:zdbh:字符串:30::K",
            "土地位置:tdwz:字符串:200:地址:",
            "土地用途:tdyt:字符串:20::",
            "供地面积:gdmj:小数:14::",
            "成交价格:cjjg:小数:18:金额:",
            "供应方式:gyfs:字符串:10::",
            "签订日期:qdrq:日期::日期:",
        ],
    ),
    (
        "MZJ",
        "婚姻登记信息",
        "社会保障",
        "基础",
        "每日",
        "有条件共享",
        "不予开放",
        "L4",
        0,
        "结婚、离婚、补发婚姻登记证等登记记录",
        [
            "登记证字号:djzzh:字符串:40:证照编号:K",
            "男方姓名:nfxm:字符串:50:姓名:Sname",
            "男方公民身份号码:nfsfhm:字符串:18:公民身份号码:Sid_number",
            "女方姓名:nvfxm:字符串:50:姓名:Sname",
            "女方公民身份号码:nvfsfhm:字符串:18:公民身份号码:Sid_number",
            "登记类型:djlx:字符串:2::",
            "登记日期:djrq:日期::日期:",
        ],
    ),
    (
        "MZJ",
        "最低生活保障对象信息",
        "社会救助",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L4",
        1,
        "城乡最低生活保障对象认定与救助金发放",
        [
            *PERSON[:2],
            "保障类型:bzlx:字符串:2::",
            "保障人数:bzrs:整数:::",
            "月保障金额:ybzje:小数:10:金额:Shash",
            "认定日期:rdrq:日期::日期:",
            *REGION,
        ],
    ),
    (
        "MZJ",
        "社会组织登记信息",
        "机构团体",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        None,
        "社会团体、民办非企业单位和基金会登记信息",
        [
            "统一社会信用代码:tyshxydm:字符串:18:统一社会信用代码:K",
            "社会组织名称:shzzmc:字符串:200:组织机构名称:",
            "组织类型:zzlx:字符串:10::",
            "业务主管单位:ywzgdw:字符串:200::",
            "成立登记日期:cldjrq:日期::日期:",
        ],
    ),
    (
        "MZJ",
        "养老机构信息",
        "社会保障",
        "部门",
        "每季度",
        "无条件共享",
        "无条件开放",
        "L1",
        1,
        "全市养老机构名称、床位与服务能力",
        [
            "机构名称:jgmc:字符串:200:组织机构名称:",
            "统一社会信用代码:tyshxydm:字符串:18:统一社会信用代码:K",
            "地址:dz:字符串:200:地址:",
            "床位数:cws:整数:::",
            "机构性质:jgxz:字符串:10::",
        ],
    ),
    (
        "GJJ",
        "公积金缴存信息",
        "财税金融",
        "基础",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "住房公积金个人账户开户、月缴存和余额信息",
        [
            *PERSON[:2],
            "个人账号:grzh:字符串:30::K,Shash",
            "单位名称:dwmc:字符串:200:组织机构名称:",
            "月缴存额:yjce:小数:12:金额:Shash",
            "账户余额:zhye:小数:14:金额:Shash",
            "缴存状态:jczt:字符串:2::",
        ],
    ),
    (
        "GJJ",
        "公积金贷款信息",
        "财税金融",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "住房公积金个人贷款发放和还款情况",
        [
            *PERSON[:2],
            "贷款合同号:dkhth:字符串:40::K",
            "贷款金额:dkje:小数:14:金额:Shash",
            "贷款期限:dkqx:整数:::",
            "放款日期:fkrq:日期::日期:",
            "逾期期数:yqqs:整数:::",
        ],
    ),
    (
        "GJJ",
        "公积金提取信息",
        "财税金融",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "住房公积金购房、租房、退休等提取记录",
        [
            *PERSON[:2],
            "提取类型:tqlx:字符串:4::",
            "提取金额:tqje:小数:12:金额:Shash",
            "提取日期:tqrq:日期::日期:",
        ],
    ),
    (
        "STHJJ",
        "空气质量监测信息",
        "资源环境",
        "主题",
        "实时",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "全市国控、省控空气自动监测站逐小时监测数据",
        [
            "监测站点编码:jczdbm:字符串:20::K",
            "监测站点名称:jczdmc:字符串:100::",
            "监测时间:jcsj:日期时间::日期时间:K",
            "PM2.5浓度:pm25:小数:8::",
            "PM10浓度:pm10:小数:8::",
            "臭氧浓度:o3:小数:8::",
            "二氧化氮浓度:no2:小数:8::",
            "空气质量指数:aqi:整数:::",
            "首要污染物:sywrw:字符串:20::",
            "经度:jd:小数:12:经度:",
            "纬度:wd:小数:12:纬度:",
        ],
    ),
    (
        "STHJJ",
        "污染源在线监测信息",
        "资源环境",
        "部门",
        "实时",
        "无条件共享",
        "受限开放",
        "L2",
        1,
        "重点排污单位废水、废气在线监测数据",
        [
            "排污单位统一社会信用代码:tyshxydm:字符串:18:统一社会信用代码:K",
            "排放口编号:pfkbh:字符串:20::K",
            "监测时间:jcsj:日期时间::日期时间:K",
            "监测因子:jcyz:字符串:30::",
            "排放浓度:pfnd:小数:12::",
            "是否超标:sfcb:布尔:::",
        ],
    ),
    (
        "STHJJ",
        "排污许可证信息",
        "资源环境",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        1,
        "排污许可证核发、变更与注销信息",
        [
            "许可证编号:xkzbh:字符串:40:证照编号:K",
            *ENTERPRISE[:2],
            "行业类别:hylb:字符串:50::",
            "有效期至:yxqz:日期::日期:",
        ],
    ),
    (
        "STHJJ",
        "地表水水质监测信息",
        "资源环境",
        "主题",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "主要河流、湖库断面水质监测结果",
        [
            "断面编码:dmbm:字符串:20::K",
            "断面名称:dmmc:字符串:100::",
            "监测日期:jcrq:日期::日期:K",
            "水质类别:szlb:字符串:4::",
            "溶解氧:rjy:小数:8::",
            "氨氮:ad:小数:8::",
        ],
    ),
    (
        "JTJ",
        "公交刷卡信息",
        "交通运输",
        "部门",
        "实时",
        "有条件共享",
        "受限开放",
        "L2",
        0,
        "公交一卡通和移动支付乘车刷卡交易记录",
        [
            "交易流水号:jylsh:字符串:40::K",
            "卡号:kh:字符串:30::Shash",
            "线路编号:xlbh:字符串:10::",
            "车辆编号:clbh:字符串:15::",
            "上车站点:sczd:字符串:50::",
            "交易时间:jysj:日期时间::日期时间:",
            "交易金额:jyje:小数:8:金额:",
        ],
    ),
    (
        "JTJ",
        "公交线路站点信息",
        "交通运输",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "公交线路走向、站点位置与首末班时间",
        [
            "线路编号:xlbh:字符串:10::K",
            "线路名称:xlmc:字符串:50::",
            "站点序号:zdxh:整数:::K",
            "站点名称:zdmc:字符串:50::",
            "经度:jd:小数:12:经度:",
            "纬度:wd:小数:12:纬度:",
            "首班时间:sbsj:字符串:5::",
            "末班时间:mbsj:字符串:5::",
        ],
    ),
    (
        "JTJ",
        "出租车运营信息",
        "交通运输",
        "部门",
        "实时",
        "有条件共享",
        "受限开放",
        "L2",
        1,
        "巡游出租车营运订单与轨迹汇总",
        [
            "订单编号:ddbh:字符串:40::K",
            "车牌号码:cphm:字符串:15:车牌号码:",
            "上车时间:scsj:日期时间::日期时间:",
            "下车时间:xcsj:日期时间::日期时间:",
            "行驶里程:xslc:小数:8::",
            "营收金额:ysje:小数:8:金额:",
        ],
    ),
    (
        "JTJ",
        "道路运输经营许可信息",
        "交通运输",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        1,
        "道路客货运输经营许可证信息",
        [
            "许可证号:xkzh:字符串:30:证照编号:K",
            *ENTERPRISE[:2],
            "经营范围:jyfw:长文本:::",
            "有效期至:yxqz:日期::日期:",
        ],
    ),
    (
        "WJW",
        "出生医学证明信息",
        "医疗卫生",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L4",
        0,
        "新生儿出生医学证明签发信息",
        [
            "出生医学证明编号:csyxzmbh:字符串:20:证照编号:K",
            "新生儿姓名:xsexm:字符串:50:姓名:Sname",
            "出生日期:csrq:日期::出生日期:",
            "母亲姓名:mqxm:字符串:50:姓名:Sname",
            "母亲公民身份号码:mqsfhm:字符串:18:公民身份号码:Sid_number",
            "签发机构:qfjg:字符串:200::",
        ],
    ),
    (
        "WJW",
        "死亡医学证明信息",
        "医疗卫生",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L4",
        0,
        "居民死亡医学证明（推断）书签发信息",
        [*PERSON, "死亡日期:swrq:日期::日期:", "死亡原因:swyy:字符串:200::Snull"],
    ),
    (
        "WJW",
        "医疗机构执业信息",
        "医疗卫生",
        "部门",
        "每季度",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "医疗机构执业许可、类别、床位与诊疗科目",
        [
            "机构名称:jgmc:字符串:200:组织机构名称:",
            "统一社会信用代码:tyshxydm:字符串:18:统一社会信用代码:K",
            "机构类别:jglb:字符串:20::",
            "地址:dz:字符串:200:地址:",
            "核定床位:hdcw:整数:::",
            "诊疗科目:zlkm:长文本:::",
        ],
    ),
    (
        "WJW",
        "预防接种信息",
        "医疗卫生",
        "部门",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "儿童和成人预防接种记录",
        [
            *PERSON[:2],
            "疫苗名称:ymmc:字符串:100::",
            "接种剂次:jzjc:整数:::",
            "接种日期:jzrq:日期::日期:",
            "接种单位:jzdw:字符串:200::",
        ],
    ),
    (
        "JYJ",
        "中小学学籍信息",
        "教育文化",
        "部门",
        "每季度",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "全市中小学在校学生学籍信息",
        [
            "全国学籍号:qgxjh:字符串:20::K",
            *PERSON[:2],
            "学校名称:xxmc:字符串:200:组织机构名称:",
            "年级:nj:字符串:10::",
            "入学日期:rxrq:日期::日期:",
        ],
    ),
    (
        "JYJ",
        "学校基本信息",
        "教育文化",
        "部门",
        "每年",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "全市中小学、幼儿园基本情况",
        [
            "学校标识码:xxbsm:字符串:10::K",
            "学校名称:xxmc:字符串:200:组织机构名称:",
            "办学类型:bxlx:字符串:10::",
            "地址:dz:字符串:200:地址:",
            "在校生数:zxss:整数:::",
            "专任教师数:zrjss:整数:::",
        ],
    ),
    (
        "JYJ",
        "教师资格认定信息",
        "教育文化",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L2",
        None,
        "教师资格认定与证书信息",
        [
            *PERSON[:2],
            "资格证书编号:zgzsbh:字符串:20:证照编号:K",
            "资格种类:zgzl:字符串:20::",
            "任教学科:rjxk:字符串:20::",
        ],
    ),
    (
        "ZWFWB",
        "12345热线工单信息",
        "法律服务",
        "主题",
        "实时",
        "有条件共享",
        "受限开放",
        "L2",
        0,
        "12345 政务服务便民热线受理、派单、办理与回访工单",
        [
            "工单编号:gdbh:字符串:30::K",
            "来电时间:ldsj:日期时间::日期时间:",
            "诉求人姓名:sqrxm:字符串:50:姓名:Sname",
            "联系电话:lxdh:字符串:20:手机号码:Sphone",
            "诉求类型:sqlx:字符串:20::",
            "诉求内容:sqnr:长文本:::",
            "事发地址:sfdz:字符串:200:地址:",
            "承办部门:cbbm:字符串:100::",
            "办理状态:blzt:字符串:10::",
            "满意度:myd:字符串:10::",
            *REGION,
        ],
    ),
    (
        "ZWFWB",
        "政务服务办件信息",
        "法律服务",
        "主题",
        "实时",
        "无条件共享",
        "受限开放",
        "L2",
        1,
        "一网通办政务服务事项的申请、受理、办结过程信息",
        [
            "办件编号:bjbh:字符串:40::K",
            "事项编码:sxbm:字符串:40::",
            "事项名称:sxmc:字符串:200::",
            "申请人名称:sqrmc:字符串:200::Sname",
            "申请人证件号码:sqrzjhm:字符串:18:公民身份号码:Sid_number",
            "受理部门:slbm:字符串:100::",
            "受理时间:slsj:日期时间::日期时间:",
            "办结时间:bjsj:日期时间::日期时间:",
            "办件状态:bjzt:字符串:10::",
        ],
    ),
    (
        "ZWFWB",
        "政务服务事项目录",
        "法律服务",
        "部门",
        "每周",
        "无条件共享",
        "无条件开放",
        "L1",
        1,
        "全市依申请政务服务事项清单及办事指南",
        [
            "事项编码:sxbm:字符串:40::K",
            "事项名称:sxmc:字符串:200::",
            "实施部门:ssbm:字符串:100::",
            "承诺时限:cnsx:整数:::",
            "是否一网通办:sfywtb:布尔:::",
        ],
    ),
    (
        "ZWFWB",
        "电子证照目录信息",
        "法律服务",
        "基础",
        "每日",
        "有条件共享",
        "不予开放",
        "L3",
        1,
        "全市已归集电子证照的目录与持证主体信息",
        [
            "证照标识:zzbs:字符串:60::K",
            "证照类型:zzlx:字符串:100::",
            "持证主体:czzt:字符串:200::Sname",
            "持证主体代码:czztdm:字符串:18::Sid_number",
            "颁证单位:bzdw:字符串:100::",
            "颁证日期:bzrq:日期::日期:",
        ],
    ),
    (
        "CGJ",
        "数字城管案件信息",
        "城建住房",
        "部门",
        "实时",
        "无条件共享",
        "受限开放",
        "L2",
        0,
        "数字城管发现、立案、派遣、处置和结案的案件信息",
        [
            "案件编号:ajbh:字符串:30::K",
            "案件类别:ajlb:字符串:50::",
            "发现时间:fxsj:日期时间::日期时间:",
            "地址:dz:字符串:200:地址:",
            "经度:jd:小数:12:经度:",
            "纬度:wd:小数:12:纬度:",
            "处置部门:czbm:字符串:100::",
            "结案时间:jasj:日期时间::日期时间:",
        ],
    ),
    (
        "CGJ",
        "户外广告设置许可信息",
        "城建住房",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "户外广告设施设置许可审批结果",
        [
            "许可编号:xkbh:字符串:30:证照编号:K",
            *ENTERPRISE[:2],
            "设置地点:szdd:字符串:200:地址:",
            "有效期至:yxqz:日期::日期:",
        ],
    ),
    (
        "CGJ",
        "环卫设施信息",
        "城建住房",
        "部门",
        "每季度",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "公共厕所、垃圾中转站等环卫设施位置",
        [
            "设施编号:ssbh:字符串:20::K",
            "设施类型:sslx:字符串:20::",
            "设施名称:ssmc:字符串:100::",
            "地址:dz:字符串:200:地址:",
            "经度:jd:小数:12:经度:",
            "纬度:wd:小数:12:纬度:",
        ],
    ),
    (
        "SJJ",
        "公共数据资源目录统计信息",
        "机构团体",
        "主题",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "各部门公共数据资源编目、归集与共享情况统计",
        [
            "统计月份:tjyf:字符串:6::K",
            "部门编码:bmbm:字符串:32::K",
            "资源数:zys:整数:::",
            "数据项数:sjxs:整数:::",
            "共享调用量:gxdyl:整数:::",
        ],
    ),
    (
        "SJJ",
        "公共信用评价信息",
        "信用服务",
        "主题",
        "每月",
        "有条件共享",
        "受限开放",
        "L2",
        0,
        "市场主体公共信用综合评价结果",
        [
            *ENTERPRISE[:2],
            "评价等级:pjdj:字符串:4::",
            "评价分值:pjfz:小数:6::",
            "评价日期:pjrq:日期::日期:",
        ],
    ),
    (
        "CDQ",
        "网格人员信息",
        "公共安全",
        "部门",
        "每月",
        "有条件共享",
        "不予开放",
        "L3",
        0,
        "城东区网格员及网格划分信息",
        [
            "网格编码:wgbm:字符串:20::K",
            "网格名称:wgmc:字符串:100::",
            "网格员姓名:wgyxm:字符串:50:姓名:Sname",
            "联系电话:lxdh:字符串:20:手机号码:Sphone",
            *REGION,
        ],
    ),
    (
        "CXQ",
        "惠企政策兑现信息",
        "经济建设",
        "部门",
        "每月",
        "无条件共享",
        "受限开放",
        "L2",
        0,
        "城西区惠企政策申报与资金兑现情况",
        [
            *ENTERPRISE[:2],
            "政策名称:zcmc:字符串:200::",
            "兑现金额:dxje:小数:14:金额:",
            "兑现日期:dxrq:日期::日期:",
        ],
    ),
    (
        "JNQ",
        "重点项目建设信息",
        "经济建设",
        "部门",
        "每月",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "江南区重点建设项目进度与投资",
        [
            "项目代码:xmdm:字符串:30::K",
            "项目名称:xmmc:字符串:200::",
            "建设单位:jsdw:字符串:200:组织机构名称:",
            "总投资:ztz:小数:18:金额:",
            "年度完成投资:ndwctz:小数:18:金额:",
            "项目状态:xmzt:字符串:10::",
        ],
    ),
    (
        "JBQ",
        "农村集体资产信息",
        "经济建设",
        "部门",
        "每年",
        "有条件共享",
        "不予开放",
        "L2",
        0,
        "江北区村级集体经济组织资产与收益",
        [
            "组织代码:zzdm:字符串:18:统一社会信用代码:K",
            "组织名称:zzmc:字符串:200:组织机构名称:",
            "资产总额:zcze:小数:18:金额:",
            "经营收入:jysr:小数:18:金额:",
            *REGION,
        ],
    ),
    (
        "HBQ",
        "文旅场所信息",
        "教育文化",
        "部门",
        "每季度",
        "无条件共享",
        "无条件开放",
        "L1",
        0,
        "湖滨区景区、博物馆、文化场馆开放信息",
        [
            "场所编号:csbh:字符串:20::K",
            "场所名称:csmc:字符串:200::",
            "场所类型:cslx:字符串:20::",
            "地址:dz:字符串:200:地址:",
            "开放时间:kfsj:字符串:100::",
            "最大承载量:zdczl:整数:::",
        ],
    ),
    (
        "LJX",
        "农业经营主体信息",
        "经济建设",
        "部门",
        "每年",
        "无条件共享",
        "受限开放",
        "L2",
        0,
        "临江县家庭农场、农民合作社等经营主体",
        [
            *ENTERPRISE[:2],
            "主体类型:ztlx:字符串:20::",
            "经营面积:jymj:小数:12::",
            "主导产业:zdcy:字符串:50::",
        ],
    ),
    (
        "GAJ",
        "重点场所治安信息",
        "公共安全",
        "部门",
        "每日",
        "不予共享",
        "不予开放",
        "L4",
        1,
        "重点场所治安管理与巡查记录",
        [
            "场所编号:csbh:字符串:20::K",
            "场所名称:csmc:字符串:200::",
            "巡查时间:xcsj:日期时间::日期时间:",
            "巡查结果:xcjg:长文本:::",
        ],
    ),
    (
        "RSJ",
        "劳动保障监察案件信息",
        "法律服务",
        "部门",
        "每月",
        "无条件共享",
        "受限开放",
        "L2",
        1,
        "劳动保障监察立案、处理和结案信息",
        [
            "案件编号:ajbh:字符串:30::K",
            *ENTERPRISE[:2],
            "案由:ay:字符串:200::",
            "涉及人数:sjrs:整数:::",
            "结案日期:jarq:日期::日期:",
        ],
    ),
]

# Left unpublished so the review queue and drafts show something.
DRAFTS = {"农村集体资产信息", "农业经营主体信息"}
SUBMITTED = {"文旅场所信息", "劳动保障监察案件信息", "重点项目建设信息"}
# Published after the first release, so comparing releases shows additions.
LATE = {"惠企政策兑现信息", "教师资格认定信息", "户外广告设置许可信息"}
RELATED = {
    "户籍迁移登记信息": ["人口基本信息"],
    "营业执照信息": ["法人基本信息"],
    "社会保险缴费信息": ["社会保险参保信息"],
    "公积金贷款信息": ["公积金缴存信息"],
    "不动产抵押登记信息": ["不动产登记信息"],
}


def parse_items(specs: list[str]) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        name, column, dtype, length, element, flags = spec.split(":")
        item: dict[str, Any] = {"name": name, "column": column, "data_type": dtype}
        if length:
            item["length"] = int(length)
        if element:
            item["data_element"] = element
        for flag in filter(None, flags.split(",")):
            if flag == "K":
                item["is_key"] = True
            elif flag.startswith("S"):
                item["is_sensitive"] = True
                item["masking"] = flag[1:] or "hash"
        out.append(item)
    return out


def resource_input(row: R, system_id: int | None, org_id: int) -> ResourceIn:
    _org, name, domain, cls, cycle, share, open_, grade, _sys, summary, items = row
    methods = (
        []
        if share == "不予共享"
        else (["系统对接", "联机查询"] if share == "有条件共享" else ["系统对接", "下载"])
    )
    return ResourceIn.model_validate(
        {
            "name": name,
            "summary": summary,
            "owner_org_id": org_id,
            "system_id": system_id,
            "domain": domain,
            "classification": cls,
            "format": "数据库",
            "update_cycle": cycle,
            "share_type": share,
            "share_condition": COND if share == "有条件共享" else None,
            "share_basis": BASIS if share == "不予共享" else None,
            "share_methods": methods,
            "open_type": open_,
            "open_reason": RESTRICT
            if open_ == "受限开放"
            else (NOPEN if open_ == "不予开放" else None),
            "grade": grade,
            "keywords": domain,
            "items": parse_items(items),
        }
    )


def _officer(session: Session, code: str, org_id: int) -> Principal:
    username = f"{code.lower()}_officer"
    uid = session.scalar(select(User.id).where(User.username == username))
    return Principal(kind="user", id=uid, name=username, role="officer", org_id=org_id)


def build(ctx: DemoContext) -> None:
    s = ctx.session
    orgs: dict[str, int] = ctx.shared["orgs"]
    admin_id = s.scalar(select(User.id).where(User.username == "admin"))
    admin = Principal(kind="user", id=admin_id, name="admin", role="admin", org_id=orgs.get("SJJ"))
    systems: dict[int, list[int]] = {}
    for sid, oid in s.execute(select(System.id, System.org_id).order_by(System.id)):
        systems.setdefault(oid, []).append(sid)
    ids: dict[str, int] = {}
    for row in RESOURCES:
        org_id = orgs[row[0]]
        sys_idx = row[8]
        sys_list = systems.get(org_id, [])
        system_id = sys_list[sys_idx] if sys_idx is not None and sys_idx < len(sys_list) else None
        data = resource_input(row, system_id, org_id)
        if row[1] in RELATED:
            codes = [service.get_resource(s, admin, ids[n]).code for n in RELATED[row[1]]]
            data = data.model_copy(update={"related_codes": codes})
        officer = _officer(s, row[0], org_id)
        res = service.create_resource(s, officer, data)
        ids[row[1]] = res.id
        if row[1] in DRAFTS:
            continue
        service.submit_resource(s, officer, res.id)
        if row[1] in SUBMITTED or row[1] in LATE:
            continue
        service.approve_resource(s, admin, res.id, "符合编目规范", publish=True)
    releases.create_release(s, admin, ReleaseCreate(name="2025版", note="首次全市目录编制"))
    for name in sorted(LATE):
        service.approve_resource(s, admin, ids[name], "符合编目规范", publish=True)
    # A published resource revised: the revision history shows a field-level diff.
    pop = ids["人口基本信息"]
    gaj = _officer(s, "GAJ", orgs["GAJ"])
    data = service.to_input(s, service.get_resource(s, gaj, pop))
    extra = parse_items(["联系电话:lxdh:字符串:20:手机号码:Sphone"])
    data = data.model_copy(
        update={
            "summary": data.summary + "，含联系电话",
            "items": [*data.items, *[ItemIn.model_validate(i) for i in extra]],
        }
    )
    service.update_resource(s, gaj, pop, data)
    service.submit_resource(s, gaj, pop, "补充联系电话数据项")
    service.approve_resource(s, admin, pop, "同意修订")
    releases.create_release(s, admin, ReleaseCreate(name="2026版", note="年度目录更新"))
    ctx.shared["catalog_resources"] = ids
    if ctx.scale > 1:
        generate_large(
            s, admin, orgs, target=round(len(RESOURCES) * ctx.scale), rng=ctx.rng("catalog")
        )


# ---- the large catalog generator ---------------------------------------------------

SUBJECTS = [
    "企业",
    "个体工商户",
    "社会组织",
    "事业单位",
    "学校",
    "医院",
    "药店",
    "养老机构",
    "幼儿园",
    "景区",
    "酒店",
    "餐饮单位",
    "农贸市场",
    "建筑工地",
    "物业小区",
    "停车场",
    "充电桩",
    "加油站",
    "危化品企业",
    "特种设备",
    "电梯",
    "消防设施",
    "供水管网",
    "燃气管网",
    "排水设施",
    "道路",
    "桥梁",
    "隧道",
    "公交车辆",
    "出租车",
    "网约车",
    "货运车辆",
    "渣土车",
    "船舶",
    "码头",
    "河道",
    "水库",
    "林地",
    "耕地",
    "宅基地",
    "矿山",
    "污染源",
    "噪声源",
    "监测站点",
    "公园",
    "绿地",
    "体育场馆",
    "图书馆",
    "文化馆",
    "博物馆",
    "社区",
    "村居",
    "网格",
    "楼宇",
    "房屋",
    "商品房",
    "保障房",
    "拆迁项目",
    "建设项目",
    "招投标项目",
    "政府采购",
    "财政资金",
    "专项债",
    "税收",
    "社保基金",
    "医保基金",
    "就业岗位",
    "职业培训",
    "技能人才",
    "高层次人才",
    "退役军人",
    "残疾人",
    "老年人",
    "困难群众",
    "流动人口",
    "新生儿",
    "学生",
    "教师",
    "医生",
    "护士",
    "志愿者",
]
ASPECTS = [
    "基本信息",
    "登记信息",
    "许可信息",
    "备案信息",
    "年检信息",
    "检查信息",
    "监测信息",
    "预警信息",
    "处罚信息",
    "投诉信息",
    "补贴信息",
    "资金拨付信息",
    "统计信息",
    "变更信息",
    "注销信息",
    "评价信息",
    "信用信息",
    "巡查信息",
    "整改信息",
    "事故信息",
    "档案信息",
    "服务信息",
    "运行信息",
    "能耗信息",
    "轨迹信息",
    "视频点位信息",
    "收费信息",
    "考核信息",
    "培训信息",
    "奖励信息",
]
ITEM_POOL = [
    *PERSON,
    *ENTERPRISE,
    *PHONE,
    *ADDRESS,
    *REGION,
    *STAMP,
    "记录编号:jlbh:字符串:40::",
    "业务类型:ywlx:字符串:20::",
    "办理状态:blzt:字符串:10::",
    "登记日期:djrq:日期::日期:",
    "有效期至:yxqz:日期::日期:",
    "经度:jd:小数:12:经度:",
    "纬度:wd:小数:12:纬度:",
    "金额:je:小数:18:金额:",
    "数量:sl:整数:::",
    "备注:bz:长文本:::",
    "审核意见:shyj:字符串:500::",
    "审核日期:shrq:日期::日期:",
    "经办人:jbr:字符串:50:姓名:Sname",
    "经办机构:jbjg:字符串:200:组织机构名称:",
    "证照编号:zzbh:字符串:40:证照编号:",
    "设施名称:ssmc:字符串:100::",
    "所属街道:ssjd:字符串:100::",
    "所属社区:sssq:字符串:100::",
    "面积:mj:小数:14::",
    "检查结果:jcjg:字符串:200::",
    "问题描述:wtms:长文本:::",
    "整改期限:zgqx:日期::日期:",
    "等级:dj:字符串:10::",
    "评分:pf:小数:6::",
    "数据来源:sjly:字符串:50::",
    "是否有效:sfyx:布尔:::",
    "开始时间:kssj:日期时间::日期时间:",
    "结束时间:jssj:日期时间::日期时间:",
    "联系人:lxr:字符串:50:姓名:Sname",
    "电子邮箱:dzyx:字符串:100::Shash",
]
CYCLES = ["实时", "每日", "每周", "每旬", "每月", "每季度", "每年"]
# (share, open, grade) combinations that satisfy the catalog rules, with weights.
PROFILES = [
    (("无条件共享", "无条件开放", "L1"), 20),
    (("无条件共享", "受限开放", "L2"), 20),
    (("有条件共享", "受限开放", "L2"), 15),
    (("有条件共享", "不予开放", "L3"), 30),
    (("有条件共享", "不予开放", "L4"), 10),
    (("不予共享", "不予开放", "L4"), 5),
]


def generate_large(
    session: Session,
    actor: Principal,
    orgs: dict[str, int],
    *,
    target: int,
    rng: random.Random,
    items_mean: int = 19,
    batch: int = 500,
) -> int:
    """Add published resources until the catalog holds ``target`` of them (bulk inserts)."""
    cfg = catalog_settings()
    org_rows = {o.id: o for o in session.scalars(select(Org).where(Org.id.in_(orgs.values())))}
    existing = set(session.execute(select(Resource.owner_org_id, Resource.name)))
    count = len(existing)
    pool = parse_items(ITEM_POOL)
    domains = cfg.domain_list
    profiles, weights = zip(*PROFILES, strict=True)
    org_ids = sorted(orgs.values())
    combos = [f"{s}{a}" for s in SUBJECTS for a in ASPECTS]
    made = 0
    pending: list[service.NewResource] = []
    while count + made < target:
        org_id = org_ids[(count + made) % len(org_ids)]
        org = org_rows[org_id]
        name = rng.choice(combos)
        if (org_id, name) in existing:
            name = f"{name}（{rng.randrange(2, 99)}）"
            if (org_id, name) in existing:
                continue
        existing.add((org_id, name))
        share, open_, grade = rng.choices(profiles, weights)[0]
        n_items = max(4, min(40, int(rng.gauss(items_mean, 5))))
        items = rng.sample(pool, min(n_items, len(pool)))
        if open_ == "无条件开放":
            items = [i for i in items if not i.get("is_sensitive")] or pool[-12:-11]
        data = ResourceIn.model_validate(
            {
                "name": name,
                "summary": f"{org.short_name or org.name}掌握的{name}，按{rng.choice(CYCLES)}更新",
                "owner_org_id": org_id,
                "domain": rng.choice(domains),
                "classification": rng.choice(["部门", "部门", "部门", "主题", "基础"]),
                "format": "数据库",
                "update_cycle": rng.choice(CYCLES),
                "share_type": share,
                "share_condition": COND if share == "有条件共享" else None,
                "share_basis": BASIS if share == "不予共享" else None,
                "share_methods": [] if share == "不予共享" else ["系统对接"],
                "open_type": open_,
                "open_reason": RESTRICT
                if open_ == "受限开放"
                else (NOPEN if open_ == "不予开放" else None),
                "grade": grade,
                "items": items,
            }
        )
        problems = check_resource(data, cfg, org_prefix=org_prefixes(org.name, org.short_name))
        if problems:
            continue
        pending.append(service.NewResource(data, org_id))
        made += 1
        if len(pending) >= batch:
            service.bulk_create(session, actor, pending, publish=True, action="generate")
            session.commit()
            pending = []
    if pending:
        service.bulk_create(session, actor, pending, publish=True, action="generate")
        session.commit()
    return made
